"""The reviewer's writes: requesting changes, rejecting, approving (past the criteria or not), notes."""

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import ensure_staff
from portal.errors import Conflict, Forbidden, InvalidInput

from ..constants import Criterion
from ..criteria import CriterionResult
from ..models import ApplicationState, EvaluationTrigger, ReasonCode, ReviewEvent, WhitelistApplication
from ..permissions import can_override_criteria, ensure_reviewer
from .entries import whitelist_entry_grant
from .evaluations import evaluation_create
from .locks import application_locked, application_locked_with_account
from .transitions import application_transition, review_event_notify_after_commit, transition_refused


def _required_message(message: str) -> str:
    message = (message or "").strip()
    if not message:
        raise InvalidInput({"message": [_("Tell the applicant what to change.")]})
    return message


@transaction.atomic
def application_request_changes(
    *, actor: User, application: WhitelistApplication, message: str, reason_code: ReasonCode | None = None
) -> WhitelistApplication:
    ensure_reviewer(user=actor, application=application)
    message = _required_message(message)
    application = application_locked(application)
    application_transition(
        application,
        allowed_from=(ApplicationState.SUBMITTED,),
        to=ApplicationState.CHANGES_REQUESTED,
        actor=actor,
        action=_("request changes on"),
        message=message,
        reason_code=reason_code,
    )
    return application


@transaction.atomic
def application_reject(
    *, actor: User, application: WhitelistApplication, reason_code: ReasonCode | None, message: str = ""
) -> WhitelistApplication:
    ensure_reviewer(user=actor, application=application)
    if reason_code is None:
        raise InvalidInput({"reason_code": [_("Choose the reason for the rejection.")]})
    application = application_locked(application)
    application_transition(
        application,
        allowed_from=(ApplicationState.SUBMITTED,),
        to=ApplicationState.REJECTED,
        actor=actor,
        action=_("reject"),
        message=(message or "").strip() or reason_code.text,
        reason_code=reason_code,
    )
    return application


class CriteriaNotMet(Conflict):
    """Approval refused: required criteria fail at decision time. ``errors`` names each, with its reason."""

    code = "criteria-not-met"

    def __init__(self, failing: list[CriterionResult]) -> None:
        self.failing = [result.criterion for result in failing]
        super().__init__(
            _("The required criteria are not met: %(criteria)s.")
            % {"criteria": ", ".join(_criterion_label(result.criterion) for result in failing)},
            errors={result.criterion: [result.reason] for result in failing},
        )


def _criterion_label(criterion: str) -> str:
    return str(Criterion(criterion).label) if criterion in Criterion.values else criterion


@transaction.atomic
def application_approve(
    *, actor: User, application: WhitelistApplication, message: str = "", override: bool = False
) -> WhitelistApplication:
    """Approve and create (or renew) the account's whitelist entry under the active policy.

    The criteria run again at decision time, on the account as it is now. A required criterion that
    fails refuses the approval (CriteriaNotMet), unless staff holding the override permission say why:
    then the message is the reason, recorded staff-only with the failing criteria.
    """
    ensure_reviewer(user=actor, application=application)
    message = (message or "").strip()
    if override:
        if not can_override_criteria(user=actor):
            raise Forbidden(_("Only staff allowed to override the criteria can approve past them."))
        if not message:
            raise InvalidInput({"message": [_("Say why the criteria are overridden.")]})
    application = application_locked_with_account(application)
    if application.state != ApplicationState.SUBMITTED:
        raise transition_refused(application, _("approve"))
    evaluation, failing = evaluation_create(application=application, trigger=EvaluationTrigger.DECISION)
    if failing and not override:
        raise CriteriaNotMet(failing)
    if failing:
        with translation.override(settings.LANGUAGE_CODE):
            note = _("Approved past failed required criteria (%(criteria)s): %(reason)s") % {
                "criteria": ", ".join(result.criterion for result in failing),
                "reason": message,
            }
        ReviewEvent.objects.create(
            application=application,
            actor=actor,
            message=note,
            visible_to_applicant=False,
            evaluation=evaluation,
        )
    application_transition(
        application,
        allowed_from=(ApplicationState.SUBMITTED,),
        to=ApplicationState.APPROVED,
        actor=actor,
        action=_("approve"),
        # An override's reason is for staff; the applicant is told of the approval only.
        message="" if failing else message,
        evaluation=evaluation,
    )
    whitelist_entry_grant(application=application, actor=actor)
    return application


@transaction.atomic
def application_note(
    *, actor: User, application: WhitelistApplication, message: str, visible_to_applicant: bool = False
) -> ReviewEvent:
    """A reviewer's note on the timeline; staff-only unless said otherwise."""
    ensure_staff(user=actor)
    message = (message or "").strip()
    if not message:
        raise InvalidInput({"message": [_("The note is empty.")]})
    event = ReviewEvent.objects.create(
        application=application, actor=actor, message=message, visible_to_applicant=visible_to_applicant
    )
    if visible_to_applicant:
        review_event_notify_after_commit(event)
    return event
