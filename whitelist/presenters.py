"""What the merchant pages show of an application: its criteria's results and its timeline, in words."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User

from .constants import Criterion, Outcome
from .models import ApplicationState, Evaluation, ReviewEvent

EVENT_TITLES: dict[str, Promise] = {
    ApplicationState.DRAFT: gettext_lazy("Draft started"),
    ApplicationState.SUBMITTED: gettext_lazy("Submitted for review"),
    ApplicationState.CHANGES_REQUESTED: gettext_lazy("Changes requested"),
    ApplicationState.APPROVED: gettext_lazy("Approved"),
    ApplicationState.REJECTED: gettext_lazy("Rejected"),
    ApplicationState.WITHDRAWN: gettext_lazy("Withdrawn"),
}


@dataclass(frozen=True)
class CriterionRow:
    name: str
    outcome: str
    outcome_label: str
    reason: str


@dataclass(frozen=True)
class TimelineRow:
    title: str
    to_state: str
    actor: str
    created_at: datetime
    reason_title: str
    message: str


def criteria_rows(evaluation: Evaluation | None) -> list[CriterionRow]:
    if evaluation is None:
        return []
    rows = []
    for result in evaluation.results:
        criterion, outcome = result.get("criterion", ""), result.get("outcome", "")
        rows.append(
            CriterionRow(
                name=str(Criterion(criterion).label) if criterion in Criterion.values else criterion,
                outcome=outcome,
                outcome_label=str(Outcome(outcome).label) if outcome in Outcome.values else outcome,
                reason=result.get("reason", ""),
            )
        )
    return rows


def actor_name(event: ReviewEvent, *, viewer: User) -> str:
    if event.actor is None:
        return _("The portal")
    # Applicants see that platform staff acted, not which reviewer.
    if event.actor.is_staff and not viewer.is_staff:
        return _("Platform staff")
    return event.actor.get_username()


def timeline_row(event: ReviewEvent, *, viewer: User) -> TimelineRow:
    if event.is_note:
        title = _("Note")
    elif (
        event.to_state == ApplicationState.SUBMITTED
        and event.from_state == ApplicationState.CHANGES_REQUESTED
    ):
        title = _("Resubmitted for review")
    else:
        title = str(EVENT_TITLES.get(event.to_state, event.to_state))
    return TimelineRow(
        title=title,
        to_state=event.to_state,
        actor=actor_name(event, viewer=viewer),
        created_at=event.created_at,
        reason_title=event.reason_code.title if event.reason_code else "",
        message=event.message,
    )


def latest_change_request(events: Sequence[ReviewEvent]) -> ReviewEvent | None:
    for event in reversed(events):
        if event.to_state == ApplicationState.CHANGES_REQUESTED:
            return event
    return None


def state_label(state: str) -> str:
    return str(ApplicationState(state).label) if state in ApplicationState.values else state
