"""Celery tasks of the whitelist: applicant emails and the daily expiry of entries."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import MembershipRole, User

from .models import ReviewEvent, WhitelistEntryEvent
from .services import whitelist_entries_expire, whitelist_entries_warn_expiring

logger = logging.getLogger(__name__)


def _organization_managers(organization_id: int) -> list[str]:
    return list(
        User.objects.filter(
            memberships__organization_id=organization_id,
            memberships__role__in=[MembershipRole.OWNER, MembershipRole.ADMIN],
            is_active=True,
        )
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def notify_application_event(self, *, event_id: int) -> int:  # type: ignore[no-untyped-def]
    """Email the organization's owners and admins about an event they may see; returns recipients."""
    event = (
        ReviewEvent.objects.select_related("application__account", "application__organization", "reason_code")
        .filter(pk=event_id, visible_to_applicant=True)
        .first()
    )
    if event is None:
        return 0
    recipients = _organization_managers(event.application.organization_id)
    if not recipients:
        return 0
    context = {"event": event, "application": event.application, "account": event.application.account}
    try:
        send_mail(
            subject=render_to_string("emails/application_event_subject.txt", context).strip(),
            message=render_to_string("emails/application_event.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except Exception as exc:
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
    """Email the organization's owners and admins about a change to its whitelist entry."""
    event = WhitelistEntryEvent.objects.select_related("entry__account").filter(pk=event_id).first()
    if event is None:
        return 0
    account = event.entry.account
    recipients = _organization_managers(account.organization_id)
    if not recipients:
        return 0
    context = {"event": event, "entry": event.entry, "account": account}
    try:
        send_mail(
            subject=render_to_string("emails/entry_event_subject.txt", context).strip(),
            message=render_to_string("emails/entry_event.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except Exception as exc:
        logger.warning("Email for entry event %s failed: %s", event_id, exc)
        raise self.retry(exc=exc) from exc
    return len(recipients)


@shared_task
def run_policy_preview(*, preview_id: int) -> int:
    """Compute a policy preview; returns how many entries and applications would flip."""
    from .models import PolicyPreview
    from .services import policy_preview_run

    preview = PolicyPreview.objects.select_related("policy", "compared_with").get(pk=preview_id)
    preview = policy_preview_run(preview=preview)
    return preview.became_eligible + preview.became_ineligible
