"""`Authorization: Token` with a lifetime: a token older than API_TOKEN_DAYS days is refused with 401."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def token_lifetime() -> timedelta | None:
    """How long a token is accepted after it was issued; None when API_TOKEN_DAYS is 0 (no limit)."""
    days = int(settings.API_TOKEN_DAYS)
    return timedelta(days=days) if days > 0 else None


def token_is_expired(token: Token, *, now: datetime | None = None) -> bool:
    lifetime = token_lifetime()
    return lifetime is not None and token.created <= (now or timezone.now()) - lifetime


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication that refuses a token past its lifetime; a new one comes from the token
    endpoint."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token):
            raise AuthenticationFailed(
                _("The token has expired. Get a new one from POST /api/v1/auth/token/.")
            )
        return user, token
