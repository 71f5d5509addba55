"""Writes of API keys: issue one (its secret shown once) and revoke it for good."""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.permissions import ensure_staff
from accounts.scopes import Scope
from portal.errors import ApplicationError

from ..models import ApiKey

API_KEY_NAME_MAX_LENGTH = 50  # the library's column


def _scopes_clean(scopes: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(scopes))
    unknown = [scope for scope in chosen if scope not in Scope.values]
    if unknown or not chosen:
        raise ApplicationError(
            _("Choose at least one scope of: %(scopes)s.") % {"scopes": ", ".join(Scope.values)},
            errors={"scopes": [_("Unknown or missing scopes: %(scopes)s") % {"scopes": ", ".join(unknown)}]},
        )
    return chosen


@transaction.atomic
def api_key_issue(
    *,
    actor: User,
    name: str,
    scopes: Iterable[str],
    organization: Organization | None = None,
    expiry_date: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key; the returned secret is shown once and only its hash is stored."""
    ensure_staff(user=actor)
    name = (name or "").strip()
    if not name or len(name) > API_KEY_NAME_MAX_LENGTH:
        raise ApplicationError(
            _("Name the key in 1 to %(limit)d characters.") % {"limit": API_KEY_NAME_MAX_LENGTH},
            errors={"name": [_("Between 1 and %(limit)d characters.") % {"limit": API_KEY_NAME_MAX_LENGTH}]},
        )
    if expiry_date is not None and expiry_date <= timezone.now():
        raise ApplicationError(
            _("The expiry must be in the future."), errors={"expiry_date": [_("Must be in the future.")]}
        )
    key, secret = ApiKey.objects.create_key(
        name=name,
        scopes=_scopes_clean(scopes),
        organization=organization,
        expiry_date=expiry_date,
        created_by=actor,
    )
    assert isinstance(key, ApiKey)
    return key, secret


def api_key_revoke(*, actor: User, key: ApiKey) -> ApiKey:
    """Revoke a key for good; requests with it are refused from now on."""
    ensure_staff(user=actor)
    ApiKey.objects.filter(pk=key.pk, revoked=False).update(revoked=True, revoked_at=timezone.now())
    key.refresh_from_db()
    key._initial_revoked = key.revoked  # keep the library's un-revoke guard in step with the row
    return key
