"""What the ground knows of API keys: the scope a view asks of a key, and the key a request carries.

The key model and its DRF authentication class live in an app above the ground. Settings name them as
strings (``API_KEY_MODEL``, as ``AUTH_USER_MODEL`` names the user, and ``API_KEY_AUTHENTICATION``), so
the ground and the base domain use keys without importing that app.
"""

from functools import cache
from typing import Any, Protocol, cast

from django.apps import apps
from django.conf import settings
from django.db.models import Model
from django.utils.module_loading import import_string
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class ApiKeyPrincipal(Protocol):
    """What the ground and the base domain read of a key."""

    prefix: str

    @property
    def is_platform_wide(self) -> bool: ...

    def has_scope(self, scope: str) -> bool: ...


def api_key_scopes_of(view: Any, method: str) -> str | None:
    """The scope a view asks of a key for this method; None when keys may not use it."""
    scopes: dict[str, str] = getattr(view, "api_key_scopes", {}) or {}
    if method == "HEAD":
        method = "GET"
    if method == "OPTIONS":
        # Describing the endpoint needs the scope of its reads, else of any method it offers keys.
        return scopes.get("GET") or next(iter(scopes.values()), None)
    return scopes.get(method)


@cache
def api_key_model() -> type[Model]:
    return apps.get_model(settings.API_KEY_MODEL)


def request_api_key(request: Request) -> ApiKeyPrincipal | None:
    """The key a request was authenticated with, if any."""
    auth = request.auth
    return cast(ApiKeyPrincipal, auth) if isinstance(auth, api_key_model()) else None


def api_key_authentication() -> list[type[BaseAuthentication]]:
    """The key authentication alone: for an anonymous endpoint that refuses keys with 403."""
    return [import_string(settings.API_KEY_AUTHENTICATION)]


class IsAuthenticatedOrApiKey(BasePermission):
    """A signed-in user, or a key (whose scope the key authentication has already checked)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request_api_key(request) or (request.user and request.user.is_authenticated))
