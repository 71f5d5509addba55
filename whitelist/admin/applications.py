"""Staff screens of applications: the review queue, one page a decision with its reason, bulk decisions."""

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.admin_actions import action_with_form, service_error_text
from accounts.auth import authenticated_user
from portal.admin_pagination import LargeTableAdmin
from portal.errors import ApplicationError

from .. import services
from ..constants import Recommendation, UserService
from ..models import ApplicationState, ReasonCode, WhitelistApplication
from ..selectors import evaluation_shown, evaluations_shown


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
