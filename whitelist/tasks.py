"""Celery tasks of the whitelist: applicant emails (each sent once, late ones swept) and the daily expiry."""

import logging
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from django.db.models import QuerySet
from django.urls import reverse

from accounts.emails import email_users
from accounts.links import absolute_url
from accounts.models import User
from accounts.selectors import organization_managers_to_email
from portal.email_claims import send_once

from .models import ReviewEvent, WhitelistEntryEvent
from .selectors import entry_event_ids_awaiting_email, review_event_ids_awaiting_email
from .services import whitelist_entries_expire, whitelist_entries_warn_expiring

logger = logging.getLogger(__name__)

CLAIMED, SENT = "notify_claimed_at", "notified_at"


def _notify_once(
    task: Task,
    row: QuerySet[Any],
    *,
    load: Callable[[], tuple[list[User], str, dict[str, object]]],
    description: str,
) -> int:
    """Email the event of the row once to the recipients `load` finds; returns how many were emailed."""

    def send(loaded: tuple[list[User], str, dict[str, object]]) -> int:
        recipients, template, context = loaded
        if not recipients:
            return 0  # no one to tell: done (marked sent), not to be swept again
        email_users(recipients, template, context)
        return len(recipients)

    def retry(exc: Exception) -> None:
        logger.warning("Email for %s failed: %s", description, exc)
        raise task.retry(exc=exc) from exc

    sent = send_once(row, claimed_field=CLAIMED, sent_field=SENT, load=load, send=send, on_failure=retry)
    return sent or 0


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def notify_application_event(self, *, event_id: int) -> int:  # type: ignore[no-untyped-def]
    """Email the organization's owners and admins about an event they may see; returns recipients.

    Claimed before sending, so a retry, a redelivery or the sweep never sends it twice; a claim left by
    a killed worker expires and the sweep takes it again (portal/email_claims.py).
    """

    def load() -> tuple[list[User], str, dict[str, object]]:
        event = ReviewEvent.objects.select_related(
            "application__account", "application__organization", "reason_code"
        ).get(pk=event_id)
        recipients = organization_managers_to_email(organization_id=event.application.organization_id)
        context: dict[str, object] = {
            "event": event,
            "application": event.application,
            "account": event.application.account,
            "url": absolute_url(reverse("whitelist:application-detail", args=[event.application_id])),
        }
        return recipients, "application_event", context

    row = ReviewEvent.objects.filter(pk=event_id, visible_to_applicant=True)
    return _notify_once(self, row, load=load, description=f"review event {event_id}")


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

    def load() -> tuple[list[User], str, dict[str, object]]:
        event = WhitelistEntryEvent.objects.select_related("entry__account").get(pk=event_id)
        account = event.entry.account
        recipients = organization_managers_to_email(organization_id=account.organization_id)
        context: dict[str, object] = {
            "event": event,
            "entry": event.entry,
            "account": account,
            # The application that whitelisted the account holds the entry's history; apply again from home.
            "url": absolute_url(reverse("whitelist:application-detail", args=[event.entry.application_id])),
        }
        return recipients, "entry_event", context

    row = WhitelistEntryEvent.objects.filter(pk=event_id)
    return _notify_once(self, row, load=load, description=f"entry event {event_id}")


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
