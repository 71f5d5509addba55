"""The hourly share quota: exact under any concurrency, on the database or on Redis.

Windows are clock hours in UTC. Either backend hands out a *slot* (1..limit) for a grant; the
caller records the share with that slot, and the database's unique (account, window, slot)
key is the backstop: lost Redis data, or a switch between backends, can never grant more.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    """The start of the clock hour in UTC holding `now`; an aware time in any zone is first made UTC,
    so 10:50 in Kathmandu (+05:45) is in the 05:00 UTC window, not at 10:00 local (04:15 UTC)."""
    now = (now or timezone.now()).astimezone(UTC)
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


# GRANT_SETTLE_SECONDS bounds the time from a grant on Redis to its share's commit: a slot granted
# longer ago than that and still not recorded belonged to an attempt that died (a killed worker), so
# the recorded shares become the count again (with the unique slot key as the backstop).
GRANT_SETTLE_SECONDS = 30

# KEYS[1] the account's hash for the window: n (slots taken), t (Redis time of the last grant).
# ARGV: limit, expiry seconds, floor (shares already recorded), settle seconds (-1: the floor only lifts).
_CONSUME_LUA = """
local state = redis.call('HMGET', KEYS[1], 'n', 't')
local used = tonumber(state[1] or '0')
local granted_at = tonumber(state[2] or '0')
local floor = tonumber(ARGV[3])
local settle = tonumber(ARGV[4])
local now = tonumber(redis.call('TIME')[1])
if used < floor or (settle >= 0 and used > floor and now - granted_at >= settle) then
    used = floor
    redis.call('HSET', KEYS[1], 'n', used)
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
if used >= tonumber(ARGV[1]) then
    return {0, used}
end
used = used + 1
redis.call('HSET', KEYS[1], 'n', used, 't', now)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {1, used}
"""

# Gives back a slot whose share was not recorded; a key already gone stays gone.
_RELEASE_LUA = """
local used = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if used > 0 then
    redis.call('HSET', KEYS[1], 'n', used - 1)
end
return used
"""


class RedisQuota:
    """One Lua script checks and counts the slots taken per account and window, in a hash that expires
    by itself; a slot whose share is not recorded is given back (`release`)."""

    name = "redis"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.script = client.register_script(_CONSUME_LUA)
        self.release_script = client.register_script(_RELEASE_LUA)

    @staticmethod
    def key(account_id: int, window: datetime) -> str:
        return f"portal:share-quota:v2:{account_id}:{window:%Y%m%d%H}"

    def consume(
        self,
        *,
        account_id: int,
        limit: int,
        window: datetime,
        floor: int = 0,
        floor_is_recorded: bool = False,
    ) -> QuotaState:
        """Take a slot if fewer than `limit` are taken; the count is lifted to `floor` first.

        With `floor_is_recorded` the floor is the count of shares recorded in the window, and is
        the truth once no grant is younger than GRANT_SETTLE_SECONDS (a slot lost with its attempt
        comes back then).
        """
        # The key outlives its window by a margin, so a late request in the window still finds it.
        expiry = int((window + WINDOW - timezone.now()).total_seconds()) + 300
        settle = GRANT_SETTLE_SECONDS if floor_is_recorded else -1
        granted, used = self.script(
            keys=[self.key(account_id, window)], args=[limit, max(expiry, 300), floor, settle]
        )
        return QuotaState(
            granted=bool(granted),
            limit=limit,
            used=int(used),
            window_start=window,
            slot=int(used) if granted else None,
        )

    def release(self, *, account_id: int, window: datetime) -> None:
        """Give back a slot taken for a share that was not recorded (its transaction rolled back)."""
        self.release_script(keys=[self.key(account_id, window)])

    def used(self, *, account_id: int, window: datetime) -> int:
        value = self.client.hget(self.key(account_id, window), "n")
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
