"""Staff screens of criteria policies: versions saved through the services, activation, the preview."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin_actions import ServiceSavingAdmin, service_error_text
from accounts.auth import authenticated_user
from portal.errors import ApplicationError

from .. import services
from ..models import CriteriaPolicy, PolicyPreview, PreviewStatus


class PolicyForm(forms.ModelForm):
    # Optional, so a form posted without it (older screens, scripts) keeps the current value.
    max_live_links_per_account = forms.IntegerField(
        label=_("live mini programs per account"), min_value=1, required=False
    )

    class Meta:
        model = CriteriaPolicy
        # The form edits what the services take: the policy values, with the open verticals.
        fields = ["open_verticals", *services.POLICY_FIELDS]
        widgets = {"open_verticals": forms.CheckboxSelectMultiple}

    def clean_max_live_links_per_account(self) -> int:
        value: int | None = self.cleaned_data.get("max_live_links_per_account")
        if value is not None:
            return value
        if self.instance.pk:
            return self.instance.max_live_links_per_account
        active = CriteriaPolicy.objects.filter(is_active=True).first()
        return active.max_live_links_per_account if active else self.instance.max_live_links_per_account


@admin.register(CriteriaPolicy)
class CriteriaPolicyAdmin(ServiceSavingAdmin):
    # save_model calls the services; a refusal (a version frozen meanwhile) is told, never a 500.
    form = PolicyForm
    list_display = [
        "version",
        "is_active",
        "min_followers",
        "min_dev_team_size",
        "min_user_services",
        "support_channel_required",
        "entry_validity_days",
        "default_share_limit_per_hour",
        "max_live_links_per_account",
        "activated_at",
    ]
    actions = ["activate", "preview"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(
        description=_("Preview the impact of activating the selected version"), permissions=["view"]
    )
    def preview(self, request: HttpRequest, queryset: QuerySet[CriteriaPolicy]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version to preview."), messages.ERROR)
            return None
        try:
            preview = services.policy_preview_request(
                actor=authenticated_user(request), policy=queryset.get()
            )
        except (ApplicationError, ValidationError) as error:
            self.message_user(request, service_error_text(error), messages.ERROR)
            return None
        self.message_user(request, _("The preview is being computed; this page shows its progress."))
        return HttpResponseRedirect(reverse("admin:whitelist_policypreview_change", args=[preview.pk]))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A version that was ever active explains past evaluations, so it is never edited.
        if obj is not None and obj.is_frozen:
            return False
        return super().has_change_permission(request, obj)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        active = CriteriaPolicy.objects.filter(is_active=True).first()
        if active is None:
            return {}
        initial = {name: getattr(active, name) for name in services.POLICY_FIELDS}
        initial["open_verticals"] = list(active.open_verticals.all())
        return initial

    def save_model(self, request: HttpRequest, obj: CriteriaPolicy, form: Any, change: bool) -> None:
        actor = authenticated_user(request)
        data = {name: form.cleaned_data[name] for name in services.POLICY_FIELDS}
        if change:
            updated = services.policy_update(
                actor=actor, policy=obj, data=data, open_verticals=form.cleaned_data["open_verticals"]
            )
        else:
            updated = services.policy_create_version(
                actor=actor, data=data, open_verticals=form.cleaned_data["open_verticals"]
            )
        obj.pk = updated.pk
        obj.version = updated.version

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The services set the open verticals; the form's own m2m save would write around them."""

    @admin.action(description=_("Activate the selected version"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[CriteriaPolicy]) -> None:
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version to activate."), messages.ERROR)
            return
        try:
            policy = services.policy_activate(actor=authenticated_user(request), policy=queryset.get())
        except (ApplicationError, ValidationError) as error:
            self.message_user(request, service_error_text(error), messages.ERROR)
            return
        self.message_user(request, _("Version %(version)d is now active.") % {"version": policy.version})


# A preview is computed, never edited: every field it shows is read-only.
PREVIEW_FIELDS = (
    "policy",
    "compared_with",
    "requested_by",
    "status",
    "progress",
    "became_ineligible",
    "became_eligible",
    "changes_display",
    "error",
    "created_at",
    "finished_at",
)


@admin.register(PolicyPreview)
class PolicyPreviewAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "policy",
        "compared_with",
        "status",
        "progress",
        "became_ineligible",
        "became_eligible",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["policy", "compared_with"]
    fields = PREVIEW_FIELDS
    readonly_fields = PREVIEW_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("progress"))
    def progress(self, obj: PolicyPreview) -> str:
        if not obj.total:
            return "—" if obj.status != PreviewStatus.DONE else "0 / 0"
        return f"{obj.checked:,} / {obj.total:,} ({100 * obj.checked // obj.total}%)"

    @admin.display(description=_("what would change"))
    def changes_display(self, obj: PolicyPreview) -> str:
        if obj.status != PreviewStatus.DONE:
            return str(_("Not finished yet; reload this page."))
        if not obj.changes:
            return str(_("Nothing would change: every entry and open application keeps its eligibility."))
        shown = len(obj.changes)
        total = obj.became_eligible + obj.became_ineligible
        note = (
            ""
            if shown == total
            else str(_(" (first %(shown)d of %(total)d)") % {"shown": shown, "total": total})
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>#{}</td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
            (
                (c["kind"], c["id"], c["account"], c["platform_uid"], c["before"], c["after"])
                for c in obj.changes
            ),
        )
        return format_html(
            "<p>{}{}</p><table><tr><th>{}</th><th>id</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("Entries and applications whose eligibility flips"),
            note,
            _("kind"),
            _("account"),
            _("now"),
            _("with this version"),
            rows,
        )
