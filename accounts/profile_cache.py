"""The profile cache's keys and its forget: beneath every app whose changes alter what a profile shows.

miniprograms/profile.py reads and stores the bodies; the whitelist (an entry suspended, revoked or
renewed), the mini programs (a link, a delisting) and the accounts (a move, a new uid) forget them from
here, so no app reaches up into another to keep the profile true.
"""

import hashlib
import secrets
from collections.abc import Iterable, Sequence

from django.core.cache import cache
from django.db import transaction

from .models import OfficialAccount

# Longer than a body lives; a version that expires only turns the next read into a miss.
PROFILE_VERSION_SECONDS = 24 * 3600


def _digest(platform_uid: str) -> str:
    return hashlib.sha256(platform_uid.encode("utf-8", "surrogatepass")).hexdigest()


def profile_cache_key(platform: str, platform_uid: str) -> str:
    """The cache key of a profile; the uid is hashed, as it may hold any character and any length."""
    return f"profile:v3:{platform}:{_digest(platform_uid)}"


def profile_version_key(platform: str, platform_uid: str) -> str:
    """The key of the profile's version token, which every forget replaces."""
    return f"profile-version:v3:{platform}:{_digest(platform_uid)}"


def profile_forget(pairs: Iterable[tuple[str, str]]) -> None:
    """Give these profiles new versions: no body cached before is served again.

    The cached bodies are deleted too (a delete is tried even while the cache counts Redis as away,
    unlike a write), so a body does not come back with its version when Redis does.
    """
    pairs = list(pairs)
    if not pairs:
        return
    cache.delete_many([profile_cache_key(*pair) for pair in pairs])
    cache.set_many(
        {profile_version_key(*pair): secrets.token_hex(16) for pair in pairs}, timeout=PROFILE_VERSION_SECONDS
    )


def profile_forget_accounts(account_ids: Iterable[int]) -> None:
    """After the current transaction commits, forget the cached profiles of these accounts."""
    ids = sorted(set(account_ids))
    if not ids:
        return

    def forget() -> None:
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
