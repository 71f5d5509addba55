"""The public profile section: an account's live mini programs, cached and forgotten on every change.

Read on every profile view of the platform, so a hit costs no query (one cache round trip) and a
miss costs two. Every service that changes what a profile shows calls `profile_forget_accounts`
(accounts/profile_cache.py, beneath every app that changes a profile), which acts after its commit.

A cached body is stored with the profile's version, a random token kept under a key of its own;
forgetting a profile writes a new token. A reader takes the token (in the same round trip as the
body) before it reads the database, and stores what it read under that token. So a miss that read
the database before a change, and stores its body after the change has forgotten the profile,
stores it under a token that has ended, and no reader serves it. A profile with no token yet gets
one after the read, with an add that fails if a forget wrote one in the meantime.
(Deleting the key, as before, let exactly that miss put the old body back for five minutes. A
short tombstone would do only as long as no miss takes longer than the tombstone lives.)
"""

import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from accounts.models import OfficialAccount
from accounts.profile_cache import PROFILE_VERSION_SECONDS, profile_cache_key, profile_version_key

from .models import MiniProgramState, ProfileLink, ProfileLinkState

PROFILE_CACHE_SECONDS = 300

Pair = tuple[str, str]


def profile_section(*, platform: str, platform_uid: str) -> dict[str, Any] | None:
    """The profile's body, or None for an account the portal does not know."""
    return profile_sections([(platform, platform_uid)])[(platform, platform_uid)]


def profile_sections(pairs: Iterable[Pair]) -> dict[Pair, dict[str, Any] | None]:
    """The bodies of several profiles: one cache round trip, and two queries for all the misses."""
    pairs = list(dict.fromkeys(pairs))
    keys = {pair: (profile_cache_key(*pair), profile_version_key(*pair)) for pair in pairs}
    found = cache.get_many([key for pair_keys in keys.values() for key in pair_keys])
    bodies: dict[Pair, dict[str, Any] | None] = {}
    versions: dict[Pair, str | None] = {}
    for pair, (body_key, version_key) in keys.items():
        cached, version = found.get(body_key), found.get(version_key)
        if version is not None and isinstance(cached, dict) and cached.get("version") == version:
            bodies[pair] = dict(cached["body"])
        else:
            versions[pair] = version
    if not versions:
        return bodies
    # The versions are read before the database: a change committed after this read has a new one.
    by_timeout: dict[int, dict[str, Any]] = {}
    for pair, (body, expires_in) in _profiles_from_database(list(versions)).items():
        bodies[pair] = body
        version = versions[pair]
        if body is not None and version is None:
            # No version yet (or it expired): start one now. If a forget wrote one since this read
            # began, the add fails and the body is not stored; nothing is written for unknown accounts.
            token = secrets.token_hex(16)
            version = token if cache.add(keys[pair][1], token, PROFILE_VERSION_SECONDS) else None
        if body is not None and version is not None:
            by_timeout.setdefault(expires_in, {})[keys[pair][0]] = {"version": version, "body": body}
    for timeout, entries in by_timeout.items():
        cache.set_many(entries, timeout=timeout)
    return bodies


def _profiles_from_database(pairs: list[Pair]) -> dict[Pair, tuple[dict[str, Any] | None, int]]:
    which = Q()
    for platform, platform_uid in pairs:
        which |= Q(platform=platform, platform_uid=platform_uid)
    accounts = (
        OfficialAccount.objects.select_related("whitelist_entry")
        .only("id", "platform", "platform_uid", "whitelist_entry__state", "whitelist_entry__valid_until")
        .filter(which)
    )
    now = timezone.now()
    result: dict[Pair, tuple[dict[str, Any] | None, int]] = dict.fromkeys(pairs, (None, 0))
    in_force = {}
    for account in accounts:
        entry = getattr(account, "whitelist_entry", None)
        pair = (account.platform, account.platform_uid)
        if entry is not None and entry.is_in_force(now):
            in_force[account.pk] = (pair, entry)
        else:
            result[pair] = ({"whitelisted": False, "miniprograms": []}, PROFILE_CACHE_SECONDS)
    if not in_force:
        return result
    shown: dict[int, list[dict[str, Any]]] = {account_id: [] for account_id in in_force}
    links = (
        ProfileLink.objects.filter(
            account_id__in=list(in_force),
            state=ProfileLinkState.LIVE,
            miniprogram__state=MiniProgramState.ACTIVE,
        )
        .select_related("miniprogram")
        .order_by("account_id", "position", "id")
    )
    for link in links:
        shown[link.account_id].append(
            {
                "app_id": link.miniprogram.app_id,
                "name": link.miniprogram.name,
                "description": link.miniprogram.description,
                "category": link.miniprogram.category,
                "capabilities": list(link.miniprogram.capabilities),
                "icon_url": link.miniprogram.icon.url if link.miniprogram.icon else None,
            }
        )
    for account_id, (pair, entry) in in_force.items():
        # An entry that lapses while cached must not stay on the profile: expire with it.
        until_lapse: timedelta = entry.valid_until - now
        expires_in = max(1, min(PROFILE_CACHE_SECONDS, int(until_lapse.total_seconds())))
        result[pair] = ({"whitelisted": True, "miniprograms": shown[account_id]}, expires_in)
    return result
