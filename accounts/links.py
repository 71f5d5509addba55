"""Absolute links in emails, built from PORTAL_BASE_URL, never from the request's Host header."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from .models import User

EMAIL_CONFIRMATION_SALT = "accounts.email-confirmation"
EMAIL_CONFIRMATION_MAX_AGE_SECONDS = 7 * 24 * 3600


def absolute_url(path: str) -> str:
    """The site's own address (PORTAL_BASE_URL) followed by path."""
    return f"{settings.PORTAL_BASE_URL}{path}"


def password_reset_url(user: User) -> str:
    """Django's one-time password reset link for the user (it stops working once the password changes)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return absolute_url(reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token}))


def email_confirmation_token(user: User) -> str:
    """A signed token naming the user and the address it confirms, so a changed address needs a new one."""
    return signing.dumps({"user": user.pk, "email": user.email.lower()}, salt=EMAIL_CONFIRMATION_SALT)


def email_confirmation_url(user: User) -> str:
    return absolute_url(reverse("email_confirm", kwargs={"token": email_confirmation_token(user)}))


def email_confirmation_user(token: str) -> User | None:
    """The user whose current address the token confirms, or None for a bad, old or outdated token."""
    try:
        data = signing.loads(token, salt=EMAIL_CONFIRMATION_SALT, max_age=EMAIL_CONFIRMATION_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = User.objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None or not user.email or user.email.lower() != data.get("email"):
        return None
    return user
