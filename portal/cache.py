"""A Redis cache that the site can do without: while Redis is unreachable, reads miss and writes are skipped.

The cache holds profiles and the API's throttle counters, never the record (the database is): so
an unreachable Redis must cost a request one short socket timeout, not a 500. After a failure, reads
and writes skip Redis for `RETRY_AFTER` seconds (per process), so a hanging Redis costs one timeout
per process and interval rather than one per cache call. Deletes are always tried, since a skipped
delete would leave a stale profile behind once Redis answers again. `incr` and `decr` still raise:
they have no answer to fall back on.
"""

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)

T = TypeVar("T")

UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)
DEFAULT_RETRY_AFTER = 5.0

# LOCATION -> monotonic time until which the Redis server there is taken as unreachable.
_unreachable_until: dict[str, float] = {}
_lock = threading.Lock()


def redis_skipped(location: str) -> bool:
    """Whether a recent failure says to leave the Redis server at `location` (a URL) alone for now.

    Shared by the caches and the share quota (miniprograms/services/shares.py), which use the same URL.
    """
    return _unreachable_until.get(location, 0.0) > time.monotonic()


def redis_failed(location: str, *, seconds: float = DEFAULT_RETRY_AFTER) -> bool:
    """Leave the Redis server at `location` alone for `seconds`; True when it was not skipped already."""
    with _lock:
        was_skipping = redis_skipped(location)
        _unreachable_until[location] = time.monotonic() + seconds
    return not was_skipping


class ReusingRedisCacheClient(RedisCacheClient):
    """Django's client, keeping one redis.Redis per connection pool instead of building one per call.

    redis.Redis is thread-safe over its pool, and building one (its callbacks, its options) cost
    about a third of the CPU of a cached profile request (docs/benchmarks.md, row 3).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        django_client: Any = self  # django-stubs leave out the client's private helpers
        index = django_client._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = django_client._get_connection_pool(write)
            client = self._clients[index] = django_client._client(connection_pool=pool)
        return client


class ResilientRedisCache(RedisCache):
    """Django's RedisCache that logs and falls back to the default when Redis does not answer.

    OPTIONS take the redis-py connection options (set short `socket_connect_timeout` and
    `socket_timeout`) plus `RETRY_AFTER`, the seconds to skip Redis after a failure.
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        self.retry_after = float(options.pop("RETRY_AFTER", DEFAULT_RETRY_AFTER))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = ReusingRedisCacheClient
        self.location = server if isinstance(server, str) else ",".join(server)
        # For the log: the address without the password that a Redis URL may carry.
        self.address = re.sub(r"//[^@/]*@", "//", self.location)

    @staticmethod
    def forget_failures() -> None:
        """Try Redis again on the next call (after a restart, in tests)."""
        with _lock:
            _unreachable_until.clear()

    def _skipping(self) -> bool:
        return redis_skipped(self.location)

    def _failed(self, operation: str, exc: Exception) -> None:
        if redis_failed(self.location, seconds=self.retry_after):
            logger.warning(
                "Cache %s unreachable on %s (%s); missing and skipping it for %.0f s",
                self.address,
                operation,
                exc,
                self.retry_after,
            )

    def _call(
        self, fallback: T, method: Callable[..., T], *args: Any, always: bool = False, **kwargs: Any
    ) -> T:
        if not always and self._skipping():
            return fallback
        try:
            return method(*args, **kwargs)
        except UNREACHABLE as exc:
            self._failed(method.__name__, exc)
            return fallback

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call(False, super().add, key, value, timeout, version)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._call(default, super().get, key, default, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._call(None, super().set, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._call(False, super().touch, key, timeout, version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._call(False, super().delete, key, version, always=True)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        return self._call({}, super().get_many, keys, version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._call(False, super().has_key, key, version)

    def set_many(
        self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        # Every key failed when Redis is away, as the contract of set_many reports it.
        return self._call(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        self._call(None, super().delete_many, list(keys), version, always=True)

    def clear(self) -> None:
        self._call(None, super().clear, always=True)
