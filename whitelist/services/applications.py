"""The applicant's writes: a draft and its evidence, then submitting, resubmitting, withdrawing."""

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import OfficialAccount, User
from portal.errors import Conflict, InvalidInput

from ..constants import UserService
from ..models import (
    EDITABLE_APPLICATION_STATES,
    OPEN_APPLICATION_STATES,
    ApplicationState,
    EvaluationTrigger,
    ReviewEvent,
    WhitelistApplication,
)
from ..permissions import ensure_applicant
from .evaluations import evaluation_create
from .locks import application_locked, application_locked_with_account
from .transitions import application_transition, transition_refused

EVIDENCE_FIELDS = (
    "has_in_house_team",
    "dev_team_size",
    "self_developed_products",
    "services",
    "support_channels",
    "after_sales_policy",
    "description",
)


# Evidence


def _clean_evidence(
    data: Mapping[str, Any], *, current: WhitelistApplication | None = None
) -> dict[str, Any]:
    """Check the evidence; the API and the forms check types, this checks the rules between fields."""
    unknown = set(data) - set(EVIDENCE_FIELDS)
    if unknown:
        raise InvalidInput({name: [_("This field cannot be set.")] for name in sorted(unknown)})
    merged = {name: getattr(current, name) for name in EVIDENCE_FIELDS} if current else {}
    merged.update(data)
    errors: dict[str, list[str]] = {}
    has_team = bool(merged.get("has_in_house_team", False))
    team_size = merged.get("dev_team_size", 0) or 0
    if not has_team and team_size:
        errors["dev_team_size"] = [_("Declare an in-house team before giving its size.")]
    if has_team and team_size < 1:
        errors["dev_team_size"] = [_("An in-house team has at least one developer.")]
    unknown_services = sorted(set(merged.get("services", [])) - set(UserService.values))
    if unknown_services:
        errors["services"] = [_("Unknown services: %(names)s.") % {"names": ", ".join(unknown_services)}]
    if errors:
        raise InvalidInput(errors)
    return dict(data)


@transaction.atomic
def application_create(
    *, actor: User, account: OfficialAccount, data: Mapping[str, Any]
) -> WhitelistApplication:
    """Start a draft application for an account; one open application per account."""
    ensure_applicant(user=actor, application_or_account=account)
    evidence = _clean_evidence(data)
    # Locked and read again: a staff move of the account (accounts' official_account_update, which
    # refuses while an application is open) either sees this application or is seen by it.
    account = OfficialAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)
    ensure_applicant(user=actor, application_or_account=account)
    open_application = WhitelistApplication.objects.filter(
        account=account, state__in=OPEN_APPLICATION_STATES
    ).first()
    if open_application is not None:
        raise Conflict(
            _("This account already has an open application (#%(id)d, %(state)s).")
            % {"id": open_application.pk, "state": open_application.state}
        )
    application = WhitelistApplication(
        account=account, organization_id=account.organization_id, created_by=actor, **evidence
    )
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError as exc:
        raise Conflict(_("This account already has an open application.")) from exc
    ReviewEvent.objects.create(application=application, actor=actor, to_state=ApplicationState.DRAFT)
    return application


@transaction.atomic
def application_update(
    *, actor: User, application: WhitelistApplication, data: Mapping[str, Any]
) -> WhitelistApplication:
    """Edit the evidence of a draft, or of an application whose changes were requested."""
    ensure_applicant(user=actor, application_or_account=application)
    application = application_locked(application)
    if application.state not in EDITABLE_APPLICATION_STATES:
        raise transition_refused(application, _("edit"))
    evidence = _clean_evidence(data, current=application)
    for name, value in evidence.items():
        setattr(application, name, value)
    if evidence:
        application.save(update_fields=[*evidence, "updated_at"])
    return application


def _send_to_review(
    *, actor: User, application: WhitelistApplication, from_state: str, action: str
) -> WhitelistApplication:
    """Evaluate the application against the active policy, then move it from `from_state` to review."""
    ensure_applicant(user=actor, application_or_account=application)
    application = application_locked_with_account(application)
    if application.state != from_state:
        raise transition_refused(application, action)
    evaluation, _failing = evaluation_create(application=application, trigger=EvaluationTrigger.SUBMISSION)
    application_transition(
        application,
        allowed_from=(from_state,),
        to=ApplicationState.SUBMITTED,
        actor=actor,
        action=action,
        evaluation=evaluation,
    )
    return application


@transaction.atomic
def application_submit(*, actor: User, application: WhitelistApplication) -> WhitelistApplication:
    """Send a draft for review; it is evaluated against the active policy."""
    return _send_to_review(
        actor=actor, application=application, from_state=ApplicationState.DRAFT, action=_("submit")
    )


@transaction.atomic
def application_resubmit(*, actor: User, application: WhitelistApplication) -> WhitelistApplication:
    """Send an application back to review after the requested changes; it is evaluated again."""
    return _send_to_review(
        actor=actor,
        application=application,
        from_state=ApplicationState.CHANGES_REQUESTED,
        action=_("resubmit"),
    )


@transaction.atomic
def application_withdraw(*, actor: User, application: WhitelistApplication) -> WhitelistApplication:
    ensure_applicant(user=actor, application_or_account=application)
    application = application_locked(application)
    application_transition(
        application,
        allowed_from=(ApplicationState.SUBMITTED, ApplicationState.CHANGES_REQUESTED),
        to=ApplicationState.WITHDRAWN,
        actor=actor,
        action=_("withdraw"),
    )
    return application
