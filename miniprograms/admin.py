"""Staff screens: mini programs, and the review of profile links with reasons."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from portal.auth import authenticated_user
from portal.errors import ApplicationError

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


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=5000)


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=5000, required=False
    )


def _error_text(error: ApplicationError | ValidationError) -> str:
    return error.message if isinstance(error, ApplicationError) else " ".join(error.messages)


def _with_reason(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    title: str,
    form_class: type[forms.Form],
    apply: Callable[..., Any],
) -> HttpResponse | None:
    """Ask for a reason on an intermediate page, then apply the service to each selected row."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        actor = authenticated_user(request)
        done = 0
        for obj in queryset:
            try:
                apply(actor, obj, form.cleaned_data["reason"])
                done += 1
            except (ApplicationError, ValidationError) as error:
                model_admin.message_user(request, f"{obj}: {_error_text(error)}", messages.WARNING)
        model_admin.message_user(request, _("%(count)d done.") % {"count": done}, messages.SUCCESS)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": action,
        "opts": model_admin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/whitelist/bulk_decision.html", context)


@admin.register(MiniProgram)
class MiniProgramAdmin(admin.ModelAdmin):
    list_display = ["id", "app_id", "name", "organization", "category", "state", "created_at"]
    list_filter = ["category", "state", ("organization", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["organization"]
    search_fields = ["=app_id", "name"]
    show_full_result_count = False
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
        return _with_reason(
            self,
            request,
            queryset,
            action="delist",
            title=str(_("Delist")),
            form_class=ReasonForm,
            apply=lambda actor, miniprogram, reason: services.miniprogram_delist(
                actor=actor, miniprogram=miniprogram, reason=reason
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
class ProfileLinkAdmin(admin.ModelAdmin):
    list_display = ["id", "miniprogram", "account", "state", "position", "decided_by", "created_at"]
    list_filter = ["state"]
    list_select_related = ["miniprogram", "account", "account__organization", "decided_by"]
    search_fields = ["=miniprogram__app_id", "miniprogram__name", "=account__platform_uid"]
    ordering = ["-id"]
    show_full_result_count = False
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
        return _with_reason(
            self,
            request,
            queryset,
            action="approve",
            title=str(_("Approve")),
            form_class=OptionalReasonForm,
            apply=lambda actor, link, reason: services.profile_link_approve(
                actor=actor, link=link, reason=reason
            ),
        )

    @admin.action(description=_("Reject selected links"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[ProfileLink]) -> HttpResponse | None:
        return _with_reason(
            self,
            request,
            queryset,
            action="reject",
            title=str(_("Reject")),
            form_class=ReasonForm,
            apply=lambda actor, link, reason: services.profile_link_reject(
                actor=actor, link=link, reason=reason
            ),
        )

    @admin.action(description=_("Unlink selected links"), permissions=["change"])
    def unlink(self, request: HttpRequest, queryset: QuerySet[ProfileLink]) -> HttpResponse | None:
        return _with_reason(
            self,
            request,
            queryset,
            action="unlink",
            title=str(_("Unlink")),
            form_class=ReasonForm,
            apply=lambda actor, link, reason: services.profile_link_unlink(
                actor=actor, link=link, reason=reason
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
class ShareAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "account", "miniprogram", "created_by", "slot", "limit", "window_start"]
    list_filter = ["miniprogram__category", "account__kind"]
    list_select_related = ["account", "miniprogram", "created_by"]
    search_fields = [
        "=account__platform_uid",
        "account__screen_name",
        "=miniprogram__app_id",
        "miniprogram__name",
    ]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(ShareQuota)
class ShareQuotaAdmin(_ReadOnlyAdmin):
    list_display = ["account", "used", "window_start"]
    list_select_related = ["account"]
    search_fields = ["=account__platform_uid", "account__screen_name"]
    show_full_result_count = False


@admin.register(ShareWindowUsage)
class ShareWindowUsageAdmin(_ReadOnlyAdmin):
    list_display = ["window_start", "account", "used"]
    list_select_related = ["account"]
    search_fields = ["=account__platform_uid", "account__screen_name"]
    date_hierarchy = "window_start"
    show_full_result_count = False


@admin.register(QuotaResetRun)
class QuotaResetRunAdmin(_ReadOnlyAdmin):
    list_display = ["started_at", "window_start", "quotas_reset", "windows_recorded", "duration_ms"]
    date_hierarchy = "started_at"
