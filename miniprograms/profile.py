"""The public profile section: an account's live mini programs, cached and forgotten on every change.

Read on every profile view of the platform, so a hit costs no query and a miss costs two. Every
service that changes what a profile shows calls `profile_forget_accounts` after its commit.
"""

import hashlib
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

PROFILE_CACHE_SECONDS = 300


def profile_cache_key(platform: str, platform_uid: str) -> str:
    """The cache key of a profile; the uid is hashed, as it may hold any character and any length."""
    digest = hashlib.sha256(platform_uid.encode("utf-8", "surrogatepass")).hexdigest()
    return f"profile:v2:{platform}:{digest}"


def profile_section(*, platform: str, platform_uid: str) -> dict[str, Any] | None:
    """The profile's body, or None for an account the portal does not know."""
    key = profile_cache_key(platform, platform_uid)
    cached = cache.get(key)
    if cached is not None:
        return dict(cached)
    body, expires_in = _profile_from_database(platform=platform, platform_uid=platform_uid)
    if body is not None:
        cache.set(key, body, timeout=expires_in)
    return body


def _profile_from_database(*, platform: str, platform_uid: str) -> tuple[dict[str, Any] | None, int]:
    from accounts.models import OfficialAccount
    from whitelist.models import EntryState

    from .models import MiniProgramState, ProfileLink, ProfileLinkState

    account = (
        OfficialAccount.objects.select_related("whitelist_entry")
        .only("id", "whitelist_entry__state", "whitelist_entry__valid_until")
        .filter(platform=platform, platform_uid=platform_uid)
        .first()
    )
    if account is None:
        return None, 0
    entry = getattr(account, "whitelist_entry", None)
    now = timezone.now()
    whitelisted = bool(entry and entry.state == EntryState.ACTIVE and entry.valid_until > now)
    if not whitelisted:
        return {"whitelisted": False, "miniprograms": []}, PROFILE_CACHE_SECONDS
    links = (
        ProfileLink.objects.filter(
            account_id=account.pk, state=ProfileLinkState.LIVE, miniprogram__state=MiniProgramState.ACTIVE
        )
        .select_related("miniprogram")
        .order_by("position", "id")
    )
    miniprograms = [
        {
            "app_id": link.miniprogram.app_id,
            "name": link.miniprogram.name,
            "description": link.miniprogram.description,
            "category": link.miniprogram.category,
            "capabilities": list(link.miniprogram.capabilities),
            "icon_url": link.miniprogram.icon.url if link.miniprogram.icon else None,
        }
        for link in links
    ]
    # An entry that lapses while cached must not stay on the profile: expire with it.
    until_lapse = (entry.valid_until - now) if entry else timedelta(0)
    expires_in = max(1, min(PROFILE_CACHE_SECONDS, int(until_lapse.total_seconds())))
    return {"whitelisted": True, "miniprograms": miniprograms}, expires_in


def profile_forget(pairs: Iterable[tuple[str, str]]) -> None:
    cache.delete_many([profile_cache_key(platform, uid) for platform, uid in pairs])


def profile_forget_accounts(account_ids: Iterable[int]) -> None:
    """After the current transaction commits, forget the cached profiles of these accounts."""
    ids = sorted(set(account_ids))
    if not ids:
        return

    def forget() -> None:
        from accounts.models import OfficialAccount

        profile_forget(OfficialAccount.objects.filter(pk__in=ids).values_list("platform", "platform_uid"))

    transaction.on_commit(forget, robust=True)


def profile_forget_changed_accounts(
    account_ids: Sequence[int], previous_identities: Sequence[tuple[str, str]]
) -> None:
    """accounts.hooks callback: forget the profiles of changed accounts, under their old identity too."""
    profile_forget_accounts(account_ids)
    if previous_identities:
        profile_forget_after_commit(previous_identities)


def profile_forget_after_commit(pairs: Iterable[tuple[str, str]]) -> None:
    pairs = list(pairs)

    def forget() -> None:
        profile_forget(pairs)

    # A named function, not a partial: Django logs a failing robust callback by its __qualname__.
    transaction.on_commit(forget, robust=True)
