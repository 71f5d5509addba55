"""Emails sent at least once and not twice: a row is claimed before its email is sent, and marked sent after.

Two fields of the row hold it: `claimed` (a worker took the email) and `sent` (it went out). A run
sends only after its conditional UPDATE claimed the row, so of two runs at once only one sends
(never twice on the normal path). A worker killed between the claim and the mark leaves a claim
that expires after EMAIL_CLAIM_EXPIRY; the sweeps then take the email again (at least once). The
expiry is far longer than a send may take (EMAIL_TIMEOUT bounds each SMTP step), so a live send is
never taken from under its worker.
"""

from datetime import datetime, timedelta

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

EMAIL_CLAIM_EXPIRY = timedelta(minutes=15)


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
