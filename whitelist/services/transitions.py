"""An application's move between states: the conditional update, its review event, what is told after."""

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from integrations.models import WebhookEvent
from integrations.services import webhook_endpoints_exist, webhook_event_emit
from portal.errors import Conflict
from portal.transitions import invalid_transition, state_move

from ..models import ApplicationState, Evaluation, ReasonCode, ReviewEvent, WhitelistApplication


def transition_refused(application: WhitelistApplication, action: str) -> Conflict:
    return invalid_transition(
        _("Cannot %(action)s an application that is %(state)s.")
        % {"action": action, "state": ApplicationState(application.state).label}
    )


def application_transition(
    application: WhitelistApplication,
    *,
    allowed_from: tuple[str, ...],
    to: str,
    actor: User,
    action: str,
    message: str = "",
    reason_code: ReasonCode | None = None,
    evaluation: Evaluation | None = None,
) -> ReviewEvent:
    """Move the locked application to a new state and record the event.

    portal.transitions.state_move's conditional UPDATE makes the move safe even where SELECT ... FOR
    UPDATE does nothing (SQLite): of two concurrent deciders, only one finds the row still in the state
    it read.
    """
    now = timezone.now()
    changes: dict[str, Any] = {"state": to, "updated_at": now}
    if to == ApplicationState.SUBMITTED:
        changes["submitted_at"] = now
    if to in (ApplicationState.APPROVED, ApplicationState.REJECTED):
        changes["decided_at"] = now
    from_state = state_move(
        application,
        allowed_from=allowed_from,
        changes=changes,
        refused=lambda: transition_refused(application, action),
    )
    event = ReviewEvent.objects.create(
        application=application,
        actor=actor,
        from_state=from_state,
        to_state=to,
        message=message,
        reason_code=reason_code,
        evaluation=evaluation,
        visible_to_applicant=True,
    )
    review_event_notify_after_commit(event)
    return event


def review_event_notify_after_commit(event: ReviewEvent) -> None:
    from ..tasks import notify_application_event

    transaction.on_commit(lambda: notify_application_event.delay(event_id=event.pk), robust=True)
    if event.to_state in (ApplicationState.APPROVED, ApplicationState.REJECTED) and webhook_endpoints_exist():
        application = event.application
        webhook_event_emit(
            event=WebhookEvent.APPLICATION_DECIDED,
            organization_id=application.organization_id,
            data={
                "application": {
                    "id": application.pk,
                    "account": application.account_id,
                    "state": event.to_state,
                },
                "decision": event.to_state,
                "reason_code": event.reason_code.code if event.reason_code else None,
                "message": event.message if event.visible_to_applicant else "",
            },
        )
