"""Celery tasks of the whitelist: applicant emails (each sent once, late ones swept) and the daily expiry."""

import logging
from collections.abc import Mapping, Sequence

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.localisation import user_locale
from accounts.models import MembershipRole, User

from .models import ReviewEvent, WhitelistEntryEvent
from .selectors import entry_event_ids_awaiting_email, review_event_ids_awaiting_email
from .services import whitelist_entries_expire, whitelist_entries_warn_expiring

logger = logging.getLogger(__name__)


def _organization_managers(organization_id: int) -> list[User]:
    return list(
        User.objects.may_be_emailed()
        .filter(
            memberships__organization_id=organization_id,
            memberships__role__in=[MembershipRole.OWNER, MembershipRole.ADMIN],
        )
        .only("email", "language", "time_zone")
        .order_by("pk")
        .distinct()
    )


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
def notify_application_event(self, *, event_id: int) -> int:  # type: ignore[no-untyped-def]
    """Email the organization's owners and admins about an event they may see; returns recipients.

    Claimed before sending (notified_at), so a retry, a redelivery or the sweep never sends it twice.
    """
    claimed = ReviewEvent.objects.filter(
        pk=event_id, visible_to_applicant=True, notified_at__isnull=True
    ).update(notified_at=timezone.now())
    if not claimed:
        return 0
    event = ReviewEvent.objects.select_related(
        "application__account", "application__organization", "reason_code"
    ).get(pk=event_id)
    recipients = _organization_managers(event.application.organization_id)
    if not recipients:
        return 0
    context = {"event": event, "application": event.application, "account": event.application.account}
    try:
        _send_to(recipients, "application_event", context)
    except Exception as exc:
        ReviewEvent.objects.filter(pk=event_id).update(notified_at=None)
        logger.warning("Email for review event %s failed: %s", event_id, exc)
        raise self.retry(exc=exc) from exc
    return len(recipients)


@shared_task
def expire_whitelist_entries() -> int:
    """Daily: expire entries past their validity and warn those that expire within 30 days; idempotent."""
    expired = whitelist_entries_expire()
    warned = whitelist_entries_warn_expiring()
    logger.info("Expired %d whitelist entries, warned %d about expiry", expired, warned)
    return expired


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def notify_entry_event(self, *, event_id: int) -> int:  # type: ignore[no-untyped-def]
    """Email the organization's owners and admins about a change to its whitelist entry, once."""
    claimed = WhitelistEntryEvent.objects.filter(pk=event_id, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    if not claimed:
        return 0
    event = WhitelistEntryEvent.objects.select_related("entry__account").get(pk=event_id)
    account = event.entry.account
    recipients = _organization_managers(account.organization_id)
    if not recipients:
        return 0
    context = {"event": event, "entry": event.entry, "account": account}
    try:
        _send_to(recipients, "entry_event", context)
    except Exception as exc:
        WhitelistEntryEvent.objects.filter(pk=event_id).update(notified_at=None)
        logger.warning("Email for entry event %s failed: %s", event_id, exc)
        raise self.retry(exc=exc) from exc
    return len(recipients)


@shared_task
def send_missed_notifications() -> int:
    """Every 10 minutes: queue the application and entry emails of recent events that were never sent.

    A change commits even when the broker is down (its email task is then lost); this sweep sends
    those emails once the broker is back. Returns how many it queued.
    """
    review_event_ids = review_event_ids_awaiting_email()
    entry_event_ids = entry_event_ids_awaiting_email()
    for event_id in review_event_ids:
        notify_application_event.delay(event_id=event_id)
    for event_id in entry_event_ids:
        notify_entry_event.delay(event_id=event_id)
    queued = len(review_event_ids) + len(entry_event_ids)
    if queued:
        logger.info("Queued %d application and entry emails that were never sent", queued)
    return queued


@shared_task
def run_policy_preview(*, preview_id: int) -> int:
    """Compute a policy preview; returns how many entries and applications would flip."""
    from .models import PolicyPreview
    from .services import policy_preview_run

    preview = PolicyPreview.objects.select_related("policy", "compared_with").get(pk=preview_id)
    preview = policy_preview_run(preview=preview)
    return preview.became_eligible + preview.became_ineligible
