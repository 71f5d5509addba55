"""`Authorization: Api-Key <key>`: who a key is, and the one place its scopes are enforced."""

from typing import cast

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework_api_key.permissions import KeyParser

from portal.api_keys import api_key_scopes_of
from portal.api_keys import request_api_key as portal_request_api_key

from .models import ApiKey

# last_used_at is written at most this often per key, so reads do not each cost a write.
LAST_USED_RESOLUTION_SECONDS = 60


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticate a key and enforce its scope against the view's `api_key_scopes`.

    The scope is checked here, not in each view's permissions, so no view can forget it: a
    view that declares no scope for a method refuses every key with 403. The request's user
    stays anonymous and `request.auth` is the key; views that accept keys read it from there.
    """

    keyword = KeyParser.keyword

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        raw = KeyParser().get_from_authorization(request)
        if raw is None:
            return None
        key = self._key(raw.strip())
        view = (request.parser_context or {}).get("view")
        scope = api_key_scopes_of(view, request.method or "GET")
        if scope is None:
            raise exceptions.PermissionDenied(
                _("API keys cannot be used on this endpoint; sign in with a user's token instead.")
            )
        if not key.has_scope(scope):
            raise exceptions.PermissionDenied(
                _("This API key lacks the scope %(scope)s that this endpoint needs.") % {"scope": scope}
            )
        self._touch(key)
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword

    @staticmethod
    def _key(raw: str) -> ApiKey:
        prefix = raw.partition(".")[0]
        key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first() if prefix else None
        if key is None or not key.is_valid(raw):
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if key.revoked:
            raise exceptions.AuthenticationFailed(_("This API key has been revoked."))
        if key.has_expired:
            raise exceptions.AuthenticationFailed(_("This API key has expired."))
        return key

    @staticmethod
    def _touch(key: ApiKey) -> None:
        now = timezone.now()
        if (
            key.last_used_at is None
            or (now - key.last_used_at).total_seconds() >= LAST_USED_RESOLUTION_SECONDS
        ):
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now


def request_api_key(request: Request) -> ApiKey | None:
    """The key a request was authenticated with, if any, as this app's model."""
    return cast(ApiKey | None, portal_request_api_key(request))
