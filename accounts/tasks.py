"""Celery tasks of the accounts app."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from portal.email_claims import send_once

from .emails import email_users
from .links import absolute_url, email_confirmation_url, password_reset_url
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

    def load() -> tuple[User, dict[str, object]]:
        user = User.objects.get(pk=user_id)
        return user, {
            "user": user,
            "organizations": [m.organization for m in user.memberships.select_related("organization")],
            # The sign-up email is the one the portal sends to an address not yet confirmed: it carries the
            # link.
            "confirm_url": None if user.email_confirmed_at else email_confirmation_url(user),
            "portal_url": absolute_url(reverse("home:dashboard")),
        }

    def send(loaded: tuple[User, dict[str, object]]) -> bool:
        user, context = loaded
        _send_to_user(user, "emails/welcome", context)
        return True

    def retry(exc: Exception) -> None:
        logger.warning("Welcome email to user %s failed: %s", user_id, exc)
        raise self.retry(exc=exc) from exc

    row = User.objects.filter(pk=user_id)
    sent = send_once(row, claimed_field=CLAIMED, sent_field=SENT, load=load, send=send, on_failure=retry)
    return sent is not None


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
    context = {
        "account": account,
        "verified": status == VerificationStatus.VERIFIED,
        "url": absolute_url(reverse("accounts:account-edit", args=[account.pk])),
    }
    try:
        email_users(recipients, "account_verification", context)
    except Exception as exc:
        logger.warning("Verification email for account %s failed: %s", account_id, exc)
        raise self.retry(exc=exc) from exc
    return len(recipients)


def _send_to_user(user: User, template: str, context: dict[str, object]) -> None:
    with user_locale(user):
        subject = render_to_string(f"{template}_subject.txt", context).strip()
        message = render_to_string(f"{template}.txt", context)
    send_mail(
        subject=subject, message=message, from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[user.email]
    )


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_password_reset_emails(self, *, email: str) -> int:  # type: ignore[no-untyped-def]
    """Mail a reset link to each user at this address whom the portal may mail; returns how many.

    Queued for every request that passed the rate limits, known address or not, so the request's answer
    and its timing are the same either way; only here is the address looked up.
    """
    users = [
        user
        for user in User.objects.may_be_emailed().filter(email__iexact=email).order_by("pk")
        if user.has_usable_password()
    ]
    try:
        for user in users:
            context = {"user": user, "reset_url": password_reset_url(user), "domain": _site_host()}
            _send_to_user(user, "emails/password_reset", context)
    except Exception as exc:
        logger.warning("Password reset email failed: %s", exc)
        raise self.retry(exc=exc) from exc
    return len(users)


def _site_host() -> str:
    return str(settings.PORTAL_BASE_URL.split("://", 1)[1])


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_email_confirmation(self, *, user_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Mail the confirmation link again to a user whose address is not confirmed yet."""
    user = (
        User.objects.filter(pk=user_id, is_active=True, email_confirmed_at__isnull=True)
        .exclude(email="")
        .first()
    )
    if user is None:
        return False
    try:
        _send_to_user(
            user, "emails/email_confirmation", {"user": user, "confirm_url": email_confirmation_url(user)}
        )
    except Exception as exc:
        logger.warning("Confirmation email to user %s failed: %s", user_id, exc)
        raise self.retry(exc=exc) from exc
    return True
