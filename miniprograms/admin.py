"""Staff screens: mini programs, and the review of profile links with reasons."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from accounts.admin_actions import OptionalReasonForm, ReasonForm, action_with_form
from portal.admin_pagination import LargeTableAdmin

from . import services
from .models import (
    MiniProgram,
    ProfileLink,
    ProfileLinkEvent,
    QuotaResetRun,
    Share,
    ShareQuota,
    ShareWindowUsage,
)


@admin.register(MiniProgram)
class MiniProgramAdmin(LargeTableAdmin):
    list_display = ["id", "app_id", "name", "organization", "category", "state", "created_at"]
    # An organization is found by searching its name: a filter would list tens of thousands of them.
    list_filter = ["category", "state"]
    list_select_related = ["organization"]
    search_fields = ["=app_id", "name", "organization__name"]
    readonly_fields = [
        "organization",
        "app_id",
        "name",
        "description",
        "icon",
        "category",
        "capabilities",
        "state",
        "created_by",
        "created_at",
        "updated_at",
    ]
    actions = ["delist"]

    # Mini programs are written through the services (API and actions), never by the change form.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Delist selected mini programs"), permissions=["change"])
    def delist(self, request: HttpRequest, queryset: QuerySet[MiniProgram]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="delist",
            title=str(_("Delist")),
            form_class=ReasonForm,
            apply=lambda actor, miniprogram, data: services.miniprogram_delist(
                actor=actor, miniprogram=miniprogram, reason=data["reason"]
            ),
        )


class ProfileLinkEventInline(admin.TabularInline):
    model = ProfileLinkEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "actor", "from_state", "to_state", "reason"]
    readonly_fields = ["created_at", "actor", "from_state", "to_state", "reason"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProfileLink)
class ProfileLinkAdmin(LargeTableAdmin):
    list_display = ["id", "miniprogram", "account", "state", "position", "decided_by", "created_at"]
    list_filter = ["state"]
    list_select_related = ["miniprogram", "account", "account__organization", "decided_by"]
    search_fields = ["=miniprogram__app_id", "miniprogram__name", "=account__platform_uid"]
    ordering = ["-id"]
    readonly_fields = [
        "miniprogram",
        "account",
        "state",
        "position",
        "requested_by",
        "reason",
        "decided_by",
        "decided_at",
        "created_at",
        "updated_at",
    ]
    inlines = [ProfileLinkEventInline]
    actions = ["approve", "reject", "unlink"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Approve selected links"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[ProfileLink]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="approve",
            title=str(_("Approve")),
            form_class=OptionalReasonForm,
            apply=lambda actor, link, data: services.profile_link_approve(
                actor=actor, link=link, reason=data["reason"]
            ),
        )

    @admin.action(description=_("Reject selected links"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[ProfileLink]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="reject",
            title=str(_("Reject")),
            form_class=ReasonForm,
            apply=lambda actor, link, data: services.profile_link_reject(
                actor=actor, link=link, reason=data["reason"]
            ),
        )

    @admin.action(description=_("Unlink selected links"), permissions=["change"])
    def unlink(self, request: HttpRequest, queryset: QuerySet[ProfileLink]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="unlink",
            title=str(_("Unlink")),
            form_class=ReasonForm,
            apply=lambda actor, link, data: services.profile_link_unlink(
                actor=actor, link=link, reason=data["reason"]
            ),
        )


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the share service and the reset job: staff read them, never edit them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Share)
class ShareAdmin(_ReadOnlyAdmin, LargeTableAdmin):
    list_display = ["created_at", "account", "miniprogram", "created_by", "slot", "limit", "window_start"]
    # Not date_hierarchy: it lists the dates found, a scan of the whole table on every load.
    list_filter = ["miniprogram__category", "account__kind", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["account", "miniprogram", "created_by"]
    search_fields = [
        "=account__platform_uid",
        "account__screen_name",
        "=miniprogram__app_id",
        "miniprogram__name",
    ]


@admin.register(ShareQuota)
class ShareQuotaAdmin(_ReadOnlyAdmin, LargeTableAdmin):
    list_display = ["account", "used", "window_start"]
    list_select_related = ["account"]
    search_fields = ["=account__platform_uid", "account__screen_name"]


@admin.register(ShareWindowUsage)
class ShareWindowUsageAdmin(_ReadOnlyAdmin, LargeTableAdmin):
    list_display = ["window_start", "account", "used"]
    list_select_related = ["account"]
    search_fields = ["=account__platform_uid", "account__screen_name"]
    list_filter = [("window_start", admin.DateFieldListFilter)]


@admin.register(QuotaResetRun)
class QuotaResetRunAdmin(_ReadOnlyAdmin):
    list_display = ["started_at", "window_start", "quotas_reset", "windows_recorded", "duration_ms"]
    date_hierarchy = "started_at"
