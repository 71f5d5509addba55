"""Merchant web pages of the whitelist: applications, their eligibility check, timeline and transitions."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.auth import authenticated_user
from accounts.models import User
from portal.errors import ApplicationError, Forbidden, InvalidInput
from portal.forms import form_add_service_errors

from . import services
from .constants import GOOD_STANDING_DAYS, Recommendation, UserService
from .forms import ApplicationFilterForm, ApplicationForm
from .models import (
    EDITABLE_APPLICATION_STATES,
    OPEN_APPLICATION_STATES,
    ApplicationState,
    CriteriaPolicy,
    Evaluation,
    WhitelistApplication,
    WhitelistEntry,
)
from .permissions import ensure_applicant
from .presenters import criteria_rows, latest_change_request, state_label, timeline_row
from .selectors import (
    application_events_visible_to,
    application_list_visible_to,
    evaluation_shown,
    evaluations_shown,
    official_account_list_open_for_application,
    organization_list_applicant_for,
    policy_active,
    whitelist_entry_list_visible_to,
)

APPLICATIONS_PER_PAGE = 25
WITHDRAWABLE_STATES = (ApplicationState.SUBMITTED, ApplicationState.CHANGES_REQUESTED)


# Reads and checks shared by the pages


def _application(request: HttpRequest, pk: int) -> WhitelistApplication:
    """The application if the user may see it; another organization's is a 404, as if it did not exist."""
    return get_object_or_404(application_list_visible_to(user=authenticated_user(request)), pk=pk)


def _is_applicant(user: User, application: WhitelistApplication) -> bool:
    try:
        ensure_applicant(user=user, application_or_account=application)
    except Forbidden:
        return False
    return True


def _ensure_applicant_page(user: User, application: WhitelistApplication) -> None:
    """Pages only an applicant may open show the service's refusal on the 403 page."""
    try:
        ensure_applicant(user=user, application_or_account=application)
    except Forbidden as error:
        raise PermissionDenied(error.message) from error


def _criteria_context() -> dict[str, object]:
    """What the summary of the programme's criteria shows: the active policy's thresholds, if any."""
    try:
        policy: CriteriaPolicy | None = policy_active()
    except CriteriaPolicy.DoesNotExist:
        policy = None
    return {"policy": policy, "good_standing_days": GOOD_STANDING_DAYS}


def _latest_evaluation(application: WhitelistApplication) -> Evaluation | None:
    return evaluation_shown(application=application)


# Pages


@login_required
@require_GET
def application_list(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    filter_form = ApplicationFilterForm(request.GET)
    state = filter_form.chosen_state()
    applications = application_list_visible_to(user=user, state=state).prefetch_related(
        Prefetch(
            "evaluations",
            queryset=evaluations_shown().only("id", "application_id", "recommendation").order_by("-id")[:1],
            to_attr="latest_evaluations",
        )
    )
    page = Paginator(applications, APPLICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    has_any_application = bool(page.object_list) or (
        bool(state) and application_list_visible_to(user=user).exists()
    )
    context = {
        "filter_form": filter_form,
        "is_filtered": bool(state),
        "has_any_application": has_any_application,
        "page_obj": page,
        "can_apply": organization_list_applicant_for(user=user).exists(),
        **({} if has_any_application else _criteria_context()),
    }
    return render(request, "whitelist/application_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def application_create(request: HttpRequest) -> HttpResponse:
    user = authenticated_user(request)
    organizations = organization_list_applicant_for(user=user)
    if not organizations.exists():
        raise PermissionDenied(
            _("Only the owners and admins of an organization can apply for the whitelist for its accounts.")
        )
    accounts = official_account_list_open_for_application(organizations=organizations)
    initial = {}
    requested = request.GET.get("account", "")
    if requested.isdigit():
        open_application = (
            application_list_visible_to(user=user)
            .filter(account_id=int(requested), state__in=OPEN_APPLICATION_STATES)
            .first()
        )
        if open_application is not None:
            messages.info(
                request,
                _("%(account)s already has an open application; continue with it.")
                % {"account": open_application.account.screen_name},
            )
            return redirect("whitelist:application-detail", pk=open_application.pk)
        if accounts.filter(pk=int(requested)).exists():
            initial["account"] = int(requested)

    form = ApplicationForm(
        request.POST if request.method == "POST" else None, accounts=accounts, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            application = services.application_create(
                actor=user, account=form.chosen_account(), data=form.evidence()
            )
        except InvalidInput as error:
            form_add_service_errors(form, error)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("Draft saved. Check your eligibility below, then submit the application when it is ready."),
            )
            return redirect("whitelist:application-detail", pk=application.pk)
    context = {
        "form": form,
        "application": None,
        "has_accounts": accounts.exists(),
        **_criteria_context(),
    }
    return render(request, "whitelist/application_form.html", context)


@login_required
@require_GET
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = authenticated_user(request)
    application = _application(request, pk)
    evaluation = _latest_evaluation(application)
    events = list(application_events_visible_to(user=user, application=application))
    state = application.state
    can_act = _is_applicant(user, application)
    entry: WhitelistEntry | None = None
    if state == ApplicationState.APPROVED:
        entry = (
            whitelist_entry_list_visible_to(user=user, account_id=application.account_id)
            .filter(application=application)
            .first()
        )
    context = {
        "application": application,
        "services": [
            UserService(value).label for value in application.services if value in UserService.values
        ],
        "attachments": list(application.attachments.all()),
        "evaluation": evaluation,
        "criteria": criteria_rows(evaluation),
        # While the evidence can change, a check older than the last change may no longer hold.
        "evaluation_is_stale": bool(
            evaluation
            and state in EDITABLE_APPLICATION_STATES
            and evaluation.created_at < application.updated_at
        ),
        "timeline": [timeline_row(event, viewer=user) for event in events],
        "change_request": (
            latest_change_request(events) if state == ApplicationState.CHANGES_REQUESTED else None
        ),
        "entry": entry,
        "can_act": can_act,
        "can_edit": can_act and state in EDITABLE_APPLICATION_STATES,
        "can_evaluate": can_act and state in EDITABLE_APPLICATION_STATES,
        "can_submit": can_act and state == ApplicationState.DRAFT,
        "can_resubmit": can_act and state == ApplicationState.CHANGES_REQUESTED,
        "can_withdraw": can_act and state in WITHDRAWABLE_STATES,
    }
    return render(request, "whitelist/application_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = authenticated_user(request)
    application = _application(request, pk)
    _ensure_applicant_page(user, application)
    if application.state not in EDITABLE_APPLICATION_STATES:
        messages.error(
            request,
            _("This application is %(state)s, so it can no longer be edited.")
            % {"state": state_label(application.state).lower()},
        )
        return redirect("whitelist:application-detail", pk=application.pk)

    form = ApplicationForm(request.POST if request.method == "POST" else None, application=application)
    if request.method == "POST" and form.is_valid():
        if not form.has_changed():
            messages.info(request, _("Nothing changed."))
            return redirect("whitelist:application-detail", pk=application.pk)
        try:
            services.application_update(actor=user, application=application, data=form.evidence())
        except InvalidInput as error:
            form_add_service_errors(form, error)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Your changes were saved."))
            return redirect("whitelist:application-detail", pk=application.pk)
    change_request = None
    if application.state == ApplicationState.CHANGES_REQUESTED:
        change_request = (
            application_events_visible_to(user=user, application=application)
            .filter(to_state=ApplicationState.CHANGES_REQUESTED)
            .last()
        )
    context = {"form": form, "application": application, "change_request": change_request}
    return render(request, "whitelist/application_form.html", context)


# Transitions


def _transition(
    request: HttpRequest,
    pk: int,
    *,
    service: Callable[..., WhitelistApplication],
    success_message: str,
) -> HttpResponse:
    """Run a transition service; a refusal (wrong state, not allowed) comes back as an error message."""
    application = _application(request, pk)
    try:
        service(actor=authenticated_user(request), application=application)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success_message)
    return redirect("whitelist:application-detail", pk=application.pk)


@login_required
@require_POST
def application_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _transition(
        request,
        pk,
        service=services.application_submit,
        success_message=_(
            "Your application was submitted. Platform staff will review it; "
            "the owners and admins of your organization are emailed at each step."
        ),
    )


@login_required
@require_POST
def application_resubmit(request: HttpRequest, pk: int) -> HttpResponse:
    return _transition(
        request,
        pk,
        service=services.application_resubmit,
        success_message=_("Your application was sent back to platform staff for review."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def application_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; only the POST withdraws."""
    if request.method == "POST":
        return _transition(
            request,
            pk,
            service=services.application_withdraw,
            success_message=_("Your application was withdrawn."),
        )
    user = authenticated_user(request)
    application = _application(request, pk)
    _ensure_applicant_page(user, application)
    if application.state not in WITHDRAWABLE_STATES:
        messages.error(
            request,
            _("This application is %(state)s, so it cannot be withdrawn.")
            % {"state": state_label(application.state).lower()},
        )
        return redirect("whitelist:application-detail", pk=application.pk)
    return render(request, "whitelist/application_withdraw.html", {"application": application})


@login_required
@require_POST
def application_evaluate(request: HttpRequest, pk: int) -> HttpResponse:
    """The eligibility check an applicant runs before submitting; it keeps the result, as the API does."""
    user = authenticated_user(request)
    application = _application(request, pk)
    detail_url = reverse("whitelist:application-detail", args=[application.pk])
    try:
        # This page is the applicant's check; staff re-evaluate in the admin.
        ensure_applicant(user=user, application_or_account=application)
        evaluation = services.application_evaluate(actor=user, application=application)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(detail_url)
    messages.success(
        request,
        _("Eligibility checked: %(recommendation)s. The result of each criterion is below.")
        % {"recommendation": Recommendation(evaluation.recommendation).label},
    )
    return redirect(f"{detail_url}#eligibility")


@login_required
@require_POST
def application_attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Attach one evidence document from the detail page; the service checks type, size and state."""
    application = _application(request, pk)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, _("Choose a PDF, PNG or JPEG file to upload."))
        return redirect("whitelist:application-detail", pk=application.pk)
    try:
        services.application_attachment_add(
            actor=authenticated_user(request), application=application, uploaded=uploaded
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(name)s is attached. A reviewer will read it, so the eligibility check asks for review.")
            % {"name": uploaded.name},
        )
    return redirect("whitelist:application-detail", pk=application.pk)


@login_required
@require_POST
def application_attachment_remove(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    application = _application(request, pk)
    attachment = get_object_or_404(application.attachments.all(), pk=attachment_id)
    try:
        services.application_attachment_remove(actor=authenticated_user(request), attachment=attachment)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(name)s is removed.") % {"name": attachment.original_name})
    return redirect("whitelist:application-detail", pk=application.pk)
