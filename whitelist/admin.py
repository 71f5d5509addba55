"""Staff screens: the review queue, decisions with reasons, policies, reason codes and entries."""

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin_actions import ReasonForm, ServiceSavingAdmin, action_with_form, service_error_text
from accounts.auth import authenticated_user
from portal.admin_pagination import LargeTableAdmin
from portal.errors import ApplicationError

from . import services
from .constants import Recommendation, UserService
from .models import (
    ApplicationState,
    CriteriaPolicy,
    PolicyPreview,
    PreviewStatus,
    ReasonCode,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
)
from .selectors import evaluation_shown, evaluations_shown


class DecisionForm(forms.Form):
    reason_code = forms.ModelChoiceField(
        queryset=ReasonCode.objects.filter(is_active=True), required=False, to_field_name="code"
    )
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}), required=False, max_length=5000
    )
    visible_to_applicant = forms.BooleanField(
        required=False, initial=False, label=_("Show this note to the applicant")
    )
    override = forms.BooleanField(
        required=False,
        initial=False,
        label=_("Approve although required criteria fail (say why above; kept for staff only)"),
    )


class RecommendationFilter(admin.SimpleListFilter):
    title = _("recommendation")
    parameter_name = "recommendation"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(Recommendation.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(latest_recommendation=self.value()) if self.value() else queryset


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


@admin.register(WhitelistApplication)
class WhitelistApplicationAdmin(LargeTableAdmin):
    list_display = [
        "id",
        "account_link",
        "organization",
        "vertical",
        "kind",
        "state",
        "recommendation",
        "age",
    ]
    list_filter = ["state", RecommendationFilter, "account__vertical", "account__kind"]
    list_select_related = ["account", "account__vertical", "organization"]
    search_fields = ["account__screen_name", "=account__platform_uid", "organization__name"]
    ordering = ["submitted_at", "id"]
    readonly_fields = [
        "account",
        "organization",
        "created_by",
        "state",
        "has_in_house_team",
        "dev_team_size",
        "products_display",
        "services_display",
        "support_channels_display",
        "after_sales_policy",
        "description",
        "attachments_display",
        "submitted_at",
        "decided_at",
        "created_at",
        "evaluation_display",
        "timeline_display",
    ]
    fieldsets = [
        (None, {"fields": ["account", "organization", "created_by", "state", "submitted_at", "decided_at"]}),
        (
            _("Development capability"),
            {"fields": ["has_in_house_team", "dev_team_size", "products_display", "attachments_display"]},
        ),
        (
            _("User services"),
            {
                "fields": [
                    "services_display",
                    "support_channels_display",
                    "after_sales_policy",
                    "description",
                ]
            },
        ),
        (_("Latest evaluation"), {"fields": ["evaluation_display"]}),
        (_("Timeline"), {"fields": ["timeline_display"]}),
    ]
    actions = ["bulk_approve", "bulk_reject"]
    change_form_template = "admin/whitelist/application_change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[WhitelistApplication]:
        latest = (
            evaluations_shown()
            .filter(application=OuterRef("pk"))
            .order_by("-id")
            .values("recommendation")[:1]
        )
        return super().get_queryset(request).annotate(latest_recommendation=Subquery(latest))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("account"), ordering="account__screen_name")
    def account_link(self, obj: WhitelistApplication) -> str:
        return f"{obj.account.screen_name} ({obj.account.platform_uid})"

    @admin.display(description=_("vertical"), ordering="account__vertical__code")
    def vertical(self, obj: WhitelistApplication) -> str:
        return str(obj.account.vertical.name)

    @admin.display(description=_("kind"), ordering="account__kind")
    def kind(self, obj: WhitelistApplication) -> str:
        return obj.account.get_kind_display()

    @admin.display(description=_("recommendation"), ordering="latest_recommendation")
    def recommendation(self, obj: WhitelistApplication) -> str:
        value = getattr(obj, "latest_recommendation", None)
        return str(Recommendation(value).label) if value else "—"

    @admin.display(description=_("waiting"), ordering="submitted_at")
    def age(self, obj: WhitelistApplication) -> str:
        if obj.state != ApplicationState.SUBMITTED or obj.submitted_at is None:
            return "—"
        waited: timedelta = timezone.now() - obj.submitted_at
        if waited.days:
            return str(_("%(days)d d") % {"days": waited.days})
        return str(_("%(hours)d h") % {"hours": waited.seconds // 3600})

    @admin.display(description=_("self-developed products"))
    def products_display(self, obj: WhitelistApplication) -> str:
        products = obj.self_developed_products or []
        if not products:
            return "—"
        return format_html_join(
            "",
            "<div>{} — <a href='{}' rel='noopener noreferrer'>{}</a></div>",
            ((p.get("name", ""), p.get("url", ""), p.get("url", "")) for p in products),
        )

    @admin.display(description=_("user-facing services"))
    def services_display(self, obj: WhitelistApplication) -> str:
        labels = [str(UserService(v).label) for v in obj.services or [] if v in UserService.values]
        return ", ".join(labels) or "—"

    @admin.display(description=_("support channels"))
    def support_channels_display(self, obj: WhitelistApplication) -> str:
        return "; ".join(obj.support_channels or []) or "—"

    @admin.display(description=_("documents"))
    def attachments_display(self, obj: WhitelistApplication) -> str:
        attachments = list(obj.attachments.all())
        if not attachments:
            return "—"
        return format_html_join(
            "",
            "<div><a href='/api/v1/applications/{}/attachments/{}/'>{}</a> ({}, {} KB)</div>",
            (
                (obj.pk, a.pk, a.original_name, a.get_content_type_display(), max(1, a.size // 1024))
                for a in attachments
            ),
        )

    @admin.display(description=_("criteria"))
    def evaluation_display(self, obj: WhitelistApplication) -> str:
        evaluation = evaluation_shown(application=obj)
        if evaluation is None:
            return str(_("Not evaluated yet (drafts are evaluated on submission)."))
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td><strong>{}</strong></td><td>{}</td></tr>",
            ((r["criterion"], r["outcome"], r["reason"]) for r in evaluation.results),
        )
        facts = evaluation.facts or {}
        facts_line = (
            format_html(
                "<p>{}: {} {} · {} {} · {} {}</p>",
                _("Facts read then"),
                _("verified:"),
                _("yes") if facts.get("account_verified") else _("no"),
                _("vertical:"),
                facts.get("vertical_name") or facts.get("vertical_code", "—"),
                _("followers:"),
                f"{facts.get('followers_count', 0):,}",
            )
            if facts
            else format_html(
                "<p>{}</p>", _("The facts this evaluation read were not kept (older evaluation).")
            )
        )
        return format_html(
            "<p>{}: <strong>{}</strong> · {} v{} · {} · {}</p>{}"
            "<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("Recommendation"),
            evaluation.get_recommendation_display(),
            _("policy"),
            evaluation.policy.version,
            evaluation.get_trigger_display(),
            evaluation.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            facts_line,
            _("criterion"),
            _("outcome"),
            _("reason"),
            rows,
        )

    @admin.display(description=_("events"))
    def timeline_display(self, obj: WhitelistApplication) -> str:
        events = obj.events.select_related("actor", "reason_code").order_by("id")
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        event.created_at.strftime("%Y-%m-%d %H:%M"),
                        event.actor or "system",
                        f"{event.from_state or '·'} → {event.to_state}" if event.to_state else _("note"),
                        event.reason_code.code if event.reason_code else "",
                        event.message,
                        _("applicant sees it") if event.visible_to_applicant else _("staff only"),
                    )
                    for event in events
                ),
            ),
        )

    # Decisions: one page per decision, asking for its reason.

    def get_urls(self) -> list[Any]:
        decide = self.admin_site.admin_view(self.decide_view)
        return [
            path("<int:pk>/decide/<str:decision>/", decide, name="whitelist_application_decide"),
            *super().get_urls(),
        ]

    DECISIONS: dict[str, Any] = {
        "approve": _("Approve"),
        "reject": _("Reject"),
        "request_changes": _("Request changes"),
        "note": _("Add a note"),
        "re_evaluate": _("Re-evaluate now"),
    }
    # Offered in every state: a note, and running the criteria again.
    ANY_STATE_DECISIONS = ("note", "re_evaluate")

    def _decide(
        self, request: HttpRequest, application: WhitelistApplication, decision: str, data: dict[str, Any]
    ) -> None:
        actor = authenticated_user(request)
        if decision == "approve":
            services.application_approve(
                actor=actor, application=application, message=data["message"], override=data["override"]
            )
        elif decision == "re_evaluate":
            services.application_evaluate(actor=actor, application=application)
        elif decision == "reject":
            services.application_reject(
                actor=actor, application=application, reason_code=data["reason_code"], message=data["message"]
            )
        elif decision == "request_changes":
            services.application_request_changes(
                actor=actor, application=application, message=data["message"], reason_code=data["reason_code"]
            )
        else:
            services.application_note(
                actor=actor,
                application=application,
                message=data["message"],
                visible_to_applicant=data["visible_to_applicant"],
            )

    def decide_view(self, request: HttpRequest, pk: int, decision: str) -> HttpResponse:
        if decision not in self.DECISIONS or not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:whitelist_whitelistapplication_changelist"))
        application = get_object_or_404(self.get_queryset(request), pk=pk)
        form = DecisionForm(request.POST if request.method == "POST" else None)
        failing: dict[str, list[str]] = {}
        if request.method == "POST" and form.is_valid():
            try:
                self._decide(request, application, decision, form.cleaned_data)
            except services.CriteriaNotMet as error:
                form.add_error(None, error.message)
                failing = error.errors
            except (ApplicationError, ValidationError) as error:
                form.add_error(None, service_error_text(error))
            else:
                self.message_user(request, _("Done: %(decision)s.") % {"decision": self.DECISIONS[decision]})
                return HttpResponseRedirect(reverse("admin:whitelist_whitelistapplication_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{self.DECISIONS[decision]}: {application}",
            "form": form,
            "application": application,
            "decision": decision,
            "failing": failing,
            "can_override": decision == "approve"
            and services.can_override_criteria(user=authenticated_user(request)),
            # The override is offered once the criteria refused the approval (or when it was asked for).
            "offer_override": decision == "approve"
            and bool(failing or form["override"].value())
            and services.can_override_criteria(user=authenticated_user(request)),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/whitelist/decision_form.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        application = self.get_object(request, object_id)
        # Decisions only where the service allows them (a submitted application); a note always.
        decisions = {
            key: label
            for key, label in self.DECISIONS.items()
            if key in self.ANY_STATE_DECISIONS
            or (application is not None and application.state == ApplicationState.SUBMITTED)
        }
        extra_context = {**(extra_context or {}), "decisions": decisions}
        return super().change_view(request, object_id, form_url, extra_context)

    # Bulk decisions with one reason

    @admin.action(description=_("Approve selected applications"), permissions=["change"])
    def bulk_approve(
        self, request: HttpRequest, queryset: QuerySet[WhitelistApplication]
    ) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="bulk_approve",
            title=str(self.DECISIONS["approve"]),
            form_class=DecisionForm,
            # Never an override: an application whose required criteria fail is skipped and named.
            apply=lambda actor, application, data: services.application_approve(
                actor=actor, application=application, message=data["message"]
            ),
        )

    @admin.action(description=_("Reject selected applications"), permissions=["change"])
    def bulk_reject(
        self, request: HttpRequest, queryset: QuerySet[WhitelistApplication]
    ) -> HttpResponse | None:
        return action_with_form(
            self,
            request,
            queryset,
            action="bulk_reject",
            title=str(self.DECISIONS["reject"]),
            form_class=DecisionForm,
            apply=lambda actor, application, data: services.application_reject(
                actor=actor, application=application, reason_code=data["reason_code"], message=data["message"]
            ),
        )


class PolicyForm(forms.ModelForm):
    # Optional, so a form posted without it (older screens, scripts) keeps the current value.
    max_live_links_per_account = forms.IntegerField(
        label=_("live mini programs per account"), min_value=1, required=False
    )

    class Meta:
        model = CriteriaPolicy
        fields = [
            "open_verticals",
            "min_followers",
            "min_dev_team_size",
            "min_user_services",
            "support_channel_required",
            "required_criteria",
            "entry_validity_days",
            "default_share_limit_per_hour",
            "max_live_links_per_account",
            "notes",
        ]
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


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "title", "text"]


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
    fields = [
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
    ]
    readonly_fields = [
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
    ]

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
