"""Staff screens of whitelist entries: suspend, reinstate and revoke with a reason, and the history."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from accounts.admin_actions import ReasonForm, action_with_form
from portal.admin_pagination import LargeTableAdmin

from .. import services
from ..models import WhitelistEntry, WhitelistEntryEvent


class WhitelistEntryEventInline(admin.TabularInline):
    model = WhitelistEntryEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "actor", "action", "from_state", "to_state", "reason", "details"]
    readonly_fields = ["created_at", "actor", "action", "from_state", "to_state", "reason", "details"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WhitelistEntry)
class WhitelistEntryAdmin(LargeTableAdmin):
    list_display = ["account", "state", "share_limit_per_hour", "valid_from", "valid_until", "updated_at"]
    list_filter = ["state", "account__vertical", "account__kind"]
    list_select_related = ["account"]
    search_fields = ["account__screen_name", "=account__platform_uid", "account__organization__name"]
    readonly_fields = [
        "account",
        "state",
        "share_limit_per_hour",
        "valid_from",
        "valid_until",
        "application",
        "revoked_at",
        "expiry_warning_sent_at",
        "created_at",
        "updated_at",
    ]
    inlines = [WhitelistEntryEventInline]
    actions = ["suspend", "reinstate", "revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _with_reason(
        self,
        request: HttpRequest,
        queryset: QuerySet[WhitelistEntry],
        *,
        action: str,
        title: str,
        service: Callable[..., WhitelistEntry],
    ) -> HttpResponse | None:
        """Ask once for the reason the organization is told, then move each selected entry with it."""
        return action_with_form(
            self,
            request,
            queryset,
            action=action,
            title=title,
            form_class=ReasonForm,
            apply=lambda actor, entry, data: service(actor=actor, entry=entry, reason=data["reason"]),
        )

    @admin.action(description=_("Suspend selected entries"), permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[WhitelistEntry]) -> HttpResponse | None:
        return self._with_reason(
            request,
            queryset,
            action="suspend",
            title=str(_("Suspend")),
            service=services.whitelist_entry_suspend,
        )

    @admin.action(description=_("Reinstate selected entries"), permissions=["change"])
    def reinstate(self, request: HttpRequest, queryset: QuerySet[WhitelistEntry]) -> HttpResponse | None:
        return self._with_reason(
            request,
            queryset,
            action="reinstate",
            title=str(_("Reinstate")),
            service=services.whitelist_entry_reinstate,
        )

    @admin.action(description=_("Revoke selected entries"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[WhitelistEntry]) -> HttpResponse | None:
        return self._with_reason(
            request,
            queryset,
            action="revoke",
            title=str(_("Revoke")),
            service=services.whitelist_entry_revoke,
        )
