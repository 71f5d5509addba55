"""Celery tasks of the accounts app."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from .models import User

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_welcome_email(self, *, user_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Send the welcome email once; a retry after it was sent does nothing."""
    claimed = User.objects.filter(pk=user_id, welcome_email_sent_at__isnull=True).update(
        welcome_email_sent_at=timezone.now()
    )
    if not claimed:
        return False
    user = User.objects.get(pk=user_id)
    context = {
        "user": user,
        "organizations": [m.organization for m in user.memberships.select_related("organization")],
    }
    try:
        send_mail(
            subject=render_to_string("emails/welcome_subject.txt", context).strip(),
            message=render_to_string("emails/welcome.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[user.email],
        )
    except Exception as exc:
        User.objects.filter(pk=user_id).update(welcome_email_sent_at=None)
        logger.warning("Welcome email to user %s failed: %s", user_id, exc)
        raise self.retry(exc=exc) from exc
    return True
