"""Writes of the email address confirmation: the confirmation itself, and the link mailed again."""

from django.db import transaction
from django.utils import timezone

from ..models import User
from .common import rate_spent

EMAIL_CONFIRMATION_RESEND_RATE = "3/hour"


def user_email_confirm(*, user: User) -> User:
    """Record that the user confirmed its address (the link's token was checked by the caller)."""
    if user.email_confirmed_at is None:
        User.objects.filter(pk=user.pk, email_confirmed_at__isnull=True).update(
            email_confirmed_at=timezone.now()
        )
        user.refresh_from_db(fields=["email_confirmed_at"])
    return user


@transaction.atomic
def email_confirmation_resend(*, user: User) -> bool:
    """Mail the confirmation link again, at most EMAIL_CONFIRMATION_RESEND_RATE; whether it was queued."""
    from ..tasks import send_email_confirmation

    if user.email_confirmed_at is not None or not user.email:
        return False
    if rate_spent(f"email-confirmation:user:{user.pk}", EMAIL_CONFIRMATION_RESEND_RATE):
        return False
    transaction.on_commit(lambda: send_email_confirmation.delay(user_id=user.pk), robust=True)
    return True
