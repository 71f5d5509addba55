"""Staff screens for users, organizations, verticals, official accounts and directory conflicts.

Every save of a domain row goes through accounts/services/, as the merchant pages and the API do.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin_actions import (
    OptionalReasonForm,
    ReasonForm,
    ServiceSavingAdmin,
    action_with_form,
    service_error_text,
)
from accounts.auth import authenticated_user
from portal.admin_pagination import LargeTableAdmin
from portal.errors import ApplicationError

from .models import (
    DirectoryConflict,
    DirectoryConflictState,
    Membership,
    OfficialAccount,
    Organization,
    User,
    Vertical,
)
from .services import (
    ACCOUNT_STAFF_EDITABLE_FIELDS,
    ORGANIZATION_EDITABLE_FIELDS,
    directory_conflict_resolve,
    membership_add,
    membership_remove,
    membership_update,
    official_account_anchor_errors,
    official_account_create,
    official_account_reject,
    official_account_update,
    official_account_verify,
    official_accounts_mark_rejected,
    official_accounts_mark_verified,
    organization_create,
    organization_set_identity_verified,
    organization_update,
)


class MembershipFormSet(BaseInlineFormSet):
    """Saves memberships through membership_add / membership_update / membership_remove."""

    def save(self, commit: bool = True) -> list[Model]:
        actor = self.actor  # type: ignore[attr-defined]  # set by the admin's save_formset
        fk_name = self.fk.name
        saved: list[Model] = []
        # What the admin's change message lists, as BaseModelFormSet.save would leave it.
        self.new_objects: list[Model] = []
        self.changed_objects: list[tuple[Model, list[str]]] = []
        self.deleted_objects: list[Model] = []
        for form in self.deleted_forms:
            if form.instance.pk:
                membership_remove(actor=actor, membership=form.instance)
                self.deleted_objects.append(form.instance)
        for form in self.forms:
            if form in self.deleted_forms or not form.has_changed():
                continue
            membership: Membership = form.instance
            # On an add page the parent had no key when the form was built.
            setattr(membership, fk_name, self.instance)
            if membership.pk:
                saved.append(membership_update(actor=actor, membership=membership, role=membership.role))
                self.changed_objects.append((membership, form.changed_data))
            else:
                added = membership_add(
                    actor=actor,
                    organization=membership.organization,
                    user=membership.user,
                    role=membership.role,
                )
                form.instance = added
                saved.append(added)
                self.new_objects.append(added)
        return saved


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class UserMembershipInline(MembershipInline):
    autocomplete_fields = ["organization"]
    fields = ["organization", "role", "created_at"]


def _save_membership_formset(request: HttpRequest, formset: Any) -> None:
    if isinstance(formset, MembershipFormSet):
        formset.actor = authenticated_user(request)  # type: ignore[attr-defined]
    formset.save()


@admin.register(User)
class UserAdmin(ServiceSavingAdmin, DjangoUserAdmin):
    inlines = [UserMembershipInline]
    list_display = ["username", "email", "is_staff", "is_active", "date_joined", "last_login"]
    readonly_fields = ["welcome_email_sent_at", "email_confirmed_at"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Preferences"), {"fields": ("language", "time_zone")}),
        (_("Notifications"), {"fields": ("email_confirmed_at", "welcome_email_sent_at")}),
    )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        _save_membership_formset(request, formset)


@admin.register(Organization)
class OrganizationAdmin(ServiceSavingAdmin, LargeTableAdmin):
    inlines = [MembershipInline]
    list_display = [
        "name",
        "kind",
        "unified_social_credit_code",
        "source",
        "identity_verified_at",
        "created_at",
    ]
    # Not date_hierarchy: it lists the years found, a scan of the whole table on every load.
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["name", "unified_social_credit_code"]
    fields = ["name", "kind", "unified_social_credit_code", "source", "identity_verified_at", "created_at"]
    readonly_fields = ["identity_verified_at", "created_at"]
    actions = ["mark_identity_verified", "withdraw_identity_verification"]

    def get_readonly_fields(self, request: HttpRequest, obj: Organization | None = None) -> list[str]:
        # Where an organization came from is a fact once it exists.
        return [*self.readonly_fields, "source"] if obj else [*self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        actor = authenticated_user(request)
        if change:
            data = {field: form.cleaned_data[field] for field in ORGANIZATION_EDITABLE_FIELDS}
            saved = organization_update(actor=actor, organization=obj, data=data)
        else:
            data = {field: form.cleaned_data[field] for field in (*ORGANIZATION_EDITABLE_FIELDS, "source")}
            saved = organization_create(actor=actor, data=data)
        # The admin logs the change and saves the inlines against obj.
        obj.pk = saved.pk
        obj._state.adding = False

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        _save_membership_formset(request, formset)

    def delete_model(self, request: HttpRequest, obj: Organization) -> None:
        raise ValidationError(_("Organizations are not deleted from the admin."))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(
        description=_("Mark the identity of selected organizations verified"), permissions=["change"]
    )
    def mark_identity_verified(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        self._set_identity(request, queryset, verified=True)

    @admin.action(
        description=_("Withdraw the identity verification of selected organizations"), permissions=["change"]
    )
    def withdraw_identity_verification(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        self._set_identity(request, queryset, verified=False)

    def _set_identity(
        self, request: HttpRequest, queryset: QuerySet[Organization], *, verified: bool
    ) -> None:
        actor = authenticated_user(request)
        for organization in queryset:
            organization_set_identity_verified(actor=actor, organization=organization, verified=verified)
        self.message_user(request, _("Done."), messages.SUCCESS)


@admin.register(Vertical)
class VerticalAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "created_at"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Vertical | None = None) -> list[str]:
        # The code is referenced by imports and the API; it does not change once created.
        return ["code"] if obj else []


class OfficialAccountAdminForm(forms.ModelForm):
    class Meta:
        model = OfficialAccount
        fields = ACCOUNT_STAFF_EDITABLE_FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk:
            # The instance still holds the stored values here: the form copies its own in afterwards.
            changed = [
                field
                for field in self.changed_data
                if field in cleaned and cleaned[field] != getattr(self.instance, field)
            ]
            for field, errors in official_account_anchor_errors(
                account=self.instance, changed=changed
            ).items():
                self.add_error(field, errors)
        return cleaned


@admin.register(OfficialAccount)
class OfficialAccountAdmin(ServiceSavingAdmin, LargeTableAdmin):
    form = OfficialAccountAdminForm
    change_form_template = "admin/accounts/officialaccount/change_form.html"
    list_display = [
        "screen_name",
        "platform_uid",
        "organization",
        "kind",
        "vertical",
        "followers_count",
        "verification_status",
        "requested_on",
    ]
    list_filter = ["verification_status", "kind", "vertical", "platform"]
    list_select_related = ["organization", "vertical"]
    search_fields = ["screen_name", "=platform_uid", "organization__name"]
    autocomplete_fields = ["organization"]
    readonly_fields = [
        "verification_status",
        "verification_requested_at",
        "verification_request_note",
        "verified_at",
        "verification_reason",
        "created_at",
        "updated_at",
    ]
    actions = ["mark_verified", "mark_rejected"]

    @admin.display(description=_("requested"), ordering="verification_requested_at")
    def requested_on(self, account: OfficialAccount) -> str:
        """When the organization last asked for verification (the pending queue sorts by it)."""
        requested = account.verification_requested_at
        return date_format(requested, "SHORT_DATE_FORMAT") if requested else "—"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Applications, entries and shares keep the account (PROTECT): deleting would only fail.
        return False

    def save_model(self, request: HttpRequest, obj: OfficialAccount, form: Any, change: bool) -> None:
        actor = authenticated_user(request)
        data = {field: form.cleaned_data[field] for field in ACCOUNT_STAFF_EDITABLE_FIELDS}
        if change:
            saved = official_account_update(actor=actor, account=obj, data=data)
        else:
            saved = official_account_create(actor=actor, **data)
        obj.pk = saved.pk
        obj._state.adding = False

    # Verify and Reject: one page each, asking for the reason the merchant reads.

    DECISIONS: dict[str, Any] = {"verify": _("Verify"), "reject": _("Reject")}

    def get_urls(self) -> list[Any]:
        decide = self.admin_site.admin_view(self.verification_view)
        return [
            path("<int:pk>/verification/<str:decision>/", decide, name="accounts_officialaccount_decide"),
            *super().get_urls(),
        ]

    def verification_view(self, request: HttpRequest, pk: int, decision: str) -> HttpResponse:
        if decision not in self.DECISIONS or not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:accounts_officialaccount_changelist"))
        account = get_object_or_404(self.get_queryset(request), pk=pk)
        form_class = ReasonForm if decision == "reject" else OptionalReasonForm
        form = form_class(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            actor = authenticated_user(request)
            reason = form.cleaned_data["reason"]
            try:
                if decision == "verify":
                    official_account_verify(actor=actor, account=account, reason=reason)
                else:
                    official_account_reject(actor=actor, account=account, reason=reason)
            except ApplicationError as error:
                form.add_error(None, service_error_text(error))
            else:
                self.message_user(request, _("Done: %(decision)s.") % {"decision": self.DECISIONS[decision]})
                return HttpResponseRedirect(reverse("admin:accounts_officialaccount_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{self.DECISIONS[decision]}: {account}",
            "form": form,
            "account": account,
            "decision": decision,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/officialaccount/verification_form.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        extra_context = {**(extra_context or {}), "decisions": self.DECISIONS}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Mark selected accounts verified"), permissions=["change"])
    def mark_verified(self, request: HttpRequest, queryset: QuerySet[OfficialAccount]) -> None:
        count = official_accounts_mark_verified(actor=authenticated_user(request), accounts=queryset)
        self.message_user(
            request,
            ngettext("%(count)d account marked verified.", "%(count)d accounts marked verified.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reject verification of selected accounts"), permissions=["change"])
    def mark_rejected(self, request: HttpRequest, queryset: QuerySet[OfficialAccount]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="mark_rejected",
            title=str(_("Reject verification of selected accounts")),
            form_class=ReasonForm,
            apply=lambda actor, account, data: official_accounts_mark_rejected(
                actor=actor, accounts=[account], reason=data["reason"]
            ),
        )


@admin.register(DirectoryConflict)
class DirectoryConflictAdmin(LargeTableAdmin):
    """Directory rows that named another owner than the account's: staff settle who owns it."""

    list_display = [
        "account",
        "holder",
        "claimed_name",
        "claimed_credit_code",
        "claimant",
        "state",
        "created_at",
        "resolved_by",
    ]
    list_filter = ["state"]
    list_select_related = ["account", "holder", "claimant", "resolved_by"]
    search_fields = ["=account__platform_uid", "claimed_name", "=claimed_credit_code", "holder__name"]
    readonly_fields = [
        "account",
        "holder",
        "claimant",
        "claimed_name",
        "claimed_credit_code",
        "row",
        "line",
        "state",
        "created_at",
        "resolved_at",
        "resolved_by",
        "resolution",
    ]
    actions = ["resolve"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Resolve selected conflicts"), permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[DirectoryConflict]) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset.filter(state=DirectoryConflictState.OPEN),
            action="resolve",
            title=str(_("Resolve selected conflicts")),
            form_class=ReasonForm,
            apply=lambda actor, conflict, data: directory_conflict_resolve(
                actor=actor, conflict=conflict, resolution=data["reason"]
            ),
        )
