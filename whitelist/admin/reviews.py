"""Staff screens of the review timeline: reason codes and every application's events."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from portal.admin_pagination import LargeTableAdmin

from ..models import ApplicationState, ReasonCode, ReviewEvent


class TransitionFilter(admin.SimpleListFilter):
    """The state an event moved to, offered from the choices: listing the values found scans the table."""

    title = _("to state")
    parameter_name = "to_state"
    NOTE = "note"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*ApplicationState.choices, (self.NOTE, _("Note (no change of state)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(to_state="" if value == self.NOTE else value)


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "title", "text"]


@admin.register(ReviewEvent)
class ReviewEventAdmin(LargeTableAdmin):
    list_display = [
        "created_at",
        "application",
        "actor",
        "from_state",
        "to_state",
        "reason_code",
        "visible_to_applicant",
    ]
    # Not date_hierarchy: it lists the months found, a scan of the whole table on every load.
    list_filter = [
        TransitionFilter,
        "visible_to_applicant",
        "reason_code",
        ("created_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["application__account", "actor", "reason_code"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
