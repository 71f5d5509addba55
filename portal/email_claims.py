"""Emails sent at least once and not twice: a row is claimed before its email is sent, and marked sent after.

Two fields of the row hold it: `claimed` (a worker took the email) and `sent` (it went out). A run
sends only after its conditional UPDATE claimed the row, so of two runs at once only one sends
(never twice on the normal path). A worker killed between the claim and the mark leaves a claim
that expires after EMAIL_CLAIM_EXPIRY; the sweeps then take the email again (at least once). The
expiry is far longer than a send may take (EMAIL_TIMEOUT bounds each SMTP step), so a live send is
never taken from under its worker.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

EMAIL_CLAIM_EXPIRY = timedelta(minutes=15)

LoadedT = TypeVar("LoadedT")
ResultT = TypeVar("ResultT")


def email_claimable(*, claimed_field: str, sent_field: str, now: datetime) -> Q:
    """Rows whose email was not sent and is not being sent: unclaimed, or their claim expired."""
    return Q(**{f"{sent_field}__isnull": True}) & (
        Q(**{f"{claimed_field}__isnull": True}) | Q(**{f"{claimed_field}__lt": now - EMAIL_CLAIM_EXPIRY})
    )


def email_claim(queryset: QuerySet[Model], *, claimed_field: str, sent_field: str) -> bool:
    """Claim the email of the row the queryset names; False when it was sent or is being sent."""
    now = timezone.now()
    condition = email_claimable(claimed_field=claimed_field, sent_field=sent_field, now=now)
    return bool(queryset.filter(condition).update(**{claimed_field: now}))


def email_mark_sent(queryset: QuerySet[Model], *, sent_field: str) -> None:
    queryset.update(**{sent_field: timezone.now()})


def email_release(queryset: QuerySet[Model], *, claimed_field: str) -> None:
    """Give a claim back after a failed send, so that the retry may take it at once."""
    queryset.update(**{claimed_field: None})


def send_once(
    queryset: QuerySet[Model],
    *,
    claimed_field: str,
    sent_field: str,
    load: Callable[[], LoadedT],
    send: Callable[[LoadedT], ResultT],
    on_failure: Callable[[Exception], object],
) -> ResultT | None:
    """Claim the email of the row the queryset names, send it, and mark it sent; None when not claimed.

    `load` reads what the email needs once the row is claimed; `send` sends it (or decides there is no
    one to tell) and returns the task's result; the row is marked sent either way. A send that raises
    gives the claim back, then `on_failure` sees the error: a task's Celery retry, raised from there
    (`self.retry(exc=exc)`); the error itself goes on if on_failure returns.
    """
    if not email_claim(queryset, claimed_field=claimed_field, sent_field=sent_field):
        return None
    loaded = load()
    try:
        result = send(loaded)
    except Exception as exc:
        email_release(queryset, claimed_field=claimed_field)
        on_failure(exc)
        raise
    email_mark_sent(queryset, sent_field=sent_field)
    return result
