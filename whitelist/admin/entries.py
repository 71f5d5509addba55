"""Staff screens of whitelist entries: suspend, reinstate and revoke with a reason, and the history."""

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

    @admin.action(description=_("Suspend selected entries"), permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[WhitelistEntry]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="suspend",
            title=str(_("Suspend")),
            form_class=ReasonForm,
            apply=lambda actor, entry, data: services.whitelist_entry_suspend(
                actor=actor, entry=entry, reason=data["reason"]
            ),
        )

    @admin.action(description=_("Reinstate selected entries"), permissions=["change"])
    def reinstate(self, request: HttpRequest, queryset: QuerySet[WhitelistEntry]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="reinstate",
            title=str(_("Reinstate")),
            form_class=ReasonForm,
            apply=lambda actor, entry, data: services.whitelist_entry_reinstate(
                actor=actor, entry=entry, reason=data["reason"]
            ),
        )

    @admin.action(description=_("Revoke selected entries"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[WhitelistEntry]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="revoke",
            title=str(_("Revoke")),
            form_class=ReasonForm,
            apply=lambda actor, entry, data: services.whitelist_entry_revoke(
                actor=actor, entry=entry, reason=data["reason"]
            ),
        )
