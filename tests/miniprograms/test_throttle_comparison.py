"""Why the share limit is not DRF's ScopedRateThrottle: one burst against both, on the same Redis.

DRF's throttle reads the request history from the cache and writes it back in a second call, so the
requests that all read before the first write are all let through. How many that is depends on
thread scheduling: the test records it and prints it, and asserts only what holds under any
interleaving, above all that the project's RedisQuota grants exactly one per account.
`make bench-throttle` compares both, and the database backend, over many accounts.
"""

import secrets
from collections.abc import Callable, Iterator

import pytest
import redis
from django.core.cache.backends.redis import RedisCache

from benchmarks.throttle_comparison import burst, drf_attempt, drf_share_throttle
from miniprograms.quota import RedisQuota, window_start

THREADS = 32
IDENTS = 4


@pytest.fixture
def scratch_redis(redis_url: str) -> Iterator[tuple[redis.Redis, str]]:
    """A client and a key prefix of this test's own; its keys are removed afterwards."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10)
    prefix = f"test-throttle:{secrets.token_hex(4)}"
    yield client, prefix
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_burst_of_32__redis_quota_grants_exactly_one_per_ident__drf_throttle_recorded(
    redis_url: str, scratch_redis: tuple[redis.Redis, str], record_property: Callable[[str, object], None]
) -> None:
    client, prefix = scratch_redis
    throttle = drf_share_throttle(RedisCache(redis_url, {"KEY_PREFIX": prefix}))
    quota = RedisQuota(client)
    window = window_start()
    # Fresh account ids far above any real one; their quota keys are removed at the end.
    base = 10**12 + secrets.randbelow(10**6) * 1000
    accounts = [base + number for number in range(IDENTS)]
    drf_grants: dict[int, int] = {}
    quota_grants: dict[int, int] = {}
    try:
        for account in accounts:
            drf = burst(drf_attempt(throttle, f"account-{account}"), attempts=THREADS, timeout=30)
            assert drf.errors == []
            drf_grants[account] = drf.granted

            def consume(account: int = account) -> bool:
                return quota.consume(account_id=account, limit=1, window=window).granted

            exact = burst(consume, attempts=THREADS, timeout=30)
            assert exact.errors == []
            quota_grants[account] = exact.granted
    finally:
        client.delete(*(RedisQuota.key(account, window) for account in accounts))

    over_granted = sum(grants - 1 for grants in drf_grants.values())
    record_property("drf_grants_per_ident", sorted(drf_grants.values()))
    record_property("drf_over_grants", over_granted)
    print(
        f"DRF ScopedRateThrottle at 1/hour, {THREADS} concurrent requests on each of {IDENTS} idents: "
        f"grants {sorted(drf_grants.values())}, {over_granted} over the limit; "
        f"RedisQuota: grants {sorted(quota_grants.values())}"
    )
    assert quota_grants == dict.fromkeys(accounts, 1)
    # Whatever the interleaving, the first read finds an empty history: DRF grants at least one.
    assert all(1 <= grants <= THREADS for grants in drf_grants.values())
