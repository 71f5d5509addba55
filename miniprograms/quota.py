"""The hourly share quota: exact under any concurrency, on the database or on Redis.

Windows are clock hours in UTC. Either backend hands out a *slot* (1..limit) for a grant; the
caller records the share with that slot, and the database's unique (account, window, slot)
key is the backstop: lost Redis data, or a switch between backends, can never grant more.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

import redis
from django.conf import settings
from django.db.models import Case, F, PositiveIntegerField, Q, Value, When
from django.utils import timezone

from .models import Share, ShareQuota

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)


def window_start(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class QuotaState:
    granted: bool
    limit: int
    used: int
    window_start: datetime
    slot: int | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def resets_at(self) -> datetime:
        return self.window_start + WINDOW

    def seconds_until_reset(self, now: datetime | None = None) -> int:
        return max(1, int((self.resets_at - (now or timezone.now())).total_seconds() + 0.999))


class QuotaBackend(Protocol):
    name: str

    def consume(self, *, account_id: int, limit: int, window: datetime, floor: int = 0) -> QuotaState: ...

    def used(self, *, account_id: int, window: datetime) -> int: ...


class DatabaseQuota:
    """One conditional UPDATE decides; the row carries its window, so no reset is needed to be right."""

    name = "database"

    def consume(self, *, account_id: int, limit: int, window: datetime, floor: int = 0) -> QuotaState:
        # Must run inside the caller's transaction: the row stays locked until the share is recorded.
        ShareQuota.objects.bulk_create(
            [ShareQuota(account_id=account_id, window_start=window, used=0)], ignore_conflicts=True
        )
        if floor:
            # Bring a counter that lags behind the recorded shares (after Redis-only grants) up to date.
            ShareQuota.objects.filter(account_id=account_id).update(
                used=Case(
                    When(window_start=window, used__lt=floor, then=Value(floor)),
                    default=F("used"),
                    output_field=PositiveIntegerField(),
                ),
            )
        granted = ShareQuota.objects.filter(
            Q(account_id=account_id) & (Q(window_start__lt=window) | Q(used__lt=limit))
        ).update(
            used=Case(
                When(window_start=window, then=F("used") + 1),
                default=Value(1),
                output_field=PositiveIntegerField(),
            ),
            window_start=window,
        )
        used = self.used(account_id=account_id, window=window)
        return QuotaState(
            granted=bool(granted), limit=limit, used=used, window_start=window, slot=used if granted else None
        )

    def used(self, *, account_id: int, window: datetime) -> int:
        row = ShareQuota.objects.filter(account_id=account_id, window_start=window).values_list(
            "used", flat=True
        )
        return row[0] if row else 0


# KEYS[1] the account's key for the window; ARGV: limit, expiry seconds, floor (shares already recorded).
_CONSUME_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[3])
if floor > used then
    used = floor
    redis.call('SET', KEYS[1], used, 'EX', ARGV[2])
end
if used >= tonumber(ARGV[1]) then
    return {0, used}
end
used = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {1, used}
"""


class RedisQuota:
    """One Lua script checks and increments a key per account and window that expires by itself."""

    name = "redis"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.script = client.register_script(_CONSUME_LUA)

    @staticmethod
    def key(account_id: int, window: datetime) -> str:
        return f"portal:share-quota:{account_id}:{window:%Y%m%d%H}"

    def consume(self, *, account_id: int, limit: int, window: datetime, floor: int = 0) -> QuotaState:
        # The key outlives its window by a margin, so a late request in the window still finds it.
        expiry = int((window + WINDOW - timezone.now()).total_seconds()) + 300
        granted, used = self.script(
            keys=[self.key(account_id, window)], args=[limit, max(expiry, 300), floor]
        )
        return QuotaState(
            granted=bool(granted),
            limit=limit,
            used=int(used),
            window_start=window,
            slot=int(used) if granted else None,
        )

    def used(self, *, account_id: int, window: datetime) -> int:
        value = self.client.get(self.key(account_id, window))
        return int(value) if value else 0


@lru_cache(maxsize=4)
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30)


def quota_backend() -> QuotaBackend:
    """Redis when configured, else the database."""
    if settings.REDIS_URL and settings.SHARE_QUOTA_BACKEND != "database":
        return RedisQuota(_redis_client(settings.REDIS_URL))
    return DatabaseQuota()


def recorded_shares(*, account_id: int, window: datetime) -> int:
    return Share.objects.filter(account_id=account_id, window_start=window).count()
