"""Celery tasks of the accounts app."""

import logging
from collections.abc import Mapping, Sequence

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection, send_mail
from django.template.loader import render_to_string

from portal.email_claims import email_claim, email_mark_sent, email_release

from .localisation import user_locale
from .models import OfficialAccount, User, VerificationStatus
from .selectors import organization_managers_to_email, user_ids_awaiting_welcome_email

logger = logging.getLogger(__name__)

CLAIMED, SENT = "welcome_email_claimed_at", "welcome_email_sent_at"


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_welcome_email(self, *, user_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Send the welcome email once; a retry, a redelivery or the sweep after it was sent does nothing.

    Claimed before sending, so of two runs only one sends; a failed send gives the claim back for the
    retry, and a worker killed between the claim and the send leaves a claim that expires, after which
    the sweep sends the email (portal/email_claims.py).
    """
    row = User.objects.filter(pk=user_id)
    if not email_claim(row, claimed_field=CLAIMED, sent_field=SENT):
        return False
    user = User.objects.get(pk=user_id)
    context = {
        "user": user,
        "organizations": [m.organization for m in user.memberships.select_related("organization")],
    }
    try:
        with user_locale(user):
            subject = render_to_string("emails/welcome_subject.txt", context).strip()
            message = render_to_string("emails/welcome.txt", context)
        send_mail(
            subject=subject,
            message=message,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
    except Exception as exc:
        email_release(row, claimed_field=CLAIMED)
        logger.warning("Welcome email to user %s failed: %s", user_id, exc)
        raise self.retry(exc=exc) from exc
    email_mark_sent(row, sent_field=SENT)
    return True


@shared_task
def send_missed_welcome_emails() -> int:
    """Every 10 minutes: queue the welcome emails of recent sign-ups that were never sent.

    A sign-up commits even when the broker is down (its task is then lost); this sweep sends those
    emails once the broker is back. Returns how many it queued.
    """
    user_ids = user_ids_awaiting_welcome_email()
    for user_id in user_ids:
        send_welcome_email.delay(user_id=user_id)
    if user_ids:
        logger.info("Queued %d welcome emails that were never sent", len(user_ids))
    return len(user_ids)


def _send_to(recipients: Sequence[User], template: str, context: Mapping[str, object]) -> None:
    """The email once for each language and time zone among the recipients, rendered in theirs."""
    groups: dict[tuple[str, str], list[User]] = {}
    for user in recipients:
        groups.setdefault((user.language, user.time_zone), []).append(user)
    messages = []
    for users in groups.values():
        with user_locale(users[0]):
            subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
            body = render_to_string(f"emails/{template}.txt", context)
        messages.append(
            EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email for user in users])
        )
    get_connection().send_messages(messages)


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_verification_email(self, *, account_id: int, status: str) -> int:  # type: ignore[no-untyped-def]
    """Email the owners and admins of the account's organization that staff verified or rejected it.

    Sent only while the account still has that status: a decision overturned before the worker ran
    is not announced. Returns how many were emailed.
    """
    account = (
        OfficialAccount.objects.select_related("organization")
        .filter(pk=account_id, verification_status=status)
        .first()
    )
    if account is None or status not in (VerificationStatus.VERIFIED, VerificationStatus.REJECTED):
        return 0
    recipients = organization_managers_to_email(organization_id=account.organization_id)
    if not recipients:
        return 0
    context = {"account": account, "verified": status == VerificationStatus.VERIFIED}
    try:
        _send_to(recipients, "account_verification", context)
    except Exception as exc:
        logger.warning("Verification email for account %s failed: %s", account_id, exc)
        raise self.retry(exc=exc) from exc
    return len(recipients)
