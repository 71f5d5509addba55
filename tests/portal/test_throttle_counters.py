"""The throttles' counters: small at any rate, exact under concurrency, open without Redis."""

import threading
from collections.abc import Callable, Iterator

import pytest
import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from portal.cache import ResilientRedisCache
from portal.throttling import (
    THROTTLE_STATES_ATTRIBUTE,
    IpRateThrottle,
    PortalRateThrottle,
    PrincipalRateThrottle,
)

URL = "/api/v1/verticals/"
# A whole minute since the epoch: windows start at multiples of their length.
MINUTE_START = 1_800_000_000.0


class Clock:
    """A throttle timer moved by hand; an instance, so the throttle calls it without binding it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(MINUTE_START)
    monkeypatch.setattr(PortalRateThrottle, "timer", clock)
    return clock


@pytest.fixture
def user_rate(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Set the user rate, with a per-address rate far above it (DRF reads its rates at import)."""

    def set_rate(rate: str) -> None:
        monkeypatch.setattr(PrincipalRateThrottle, "THROTTLE_RATES", {"user": rate})
        monkeypatch.setattr(IpRateThrottle, "THROTTLE_RATES", {"ip": "1000/minute"})

    return set_rate


@pytest.fixture
def user_client(merchant) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(merchant)
    return client


def address_request(address: str = "203.0.113.50") -> Request:
    return Request(APIRequestFactory().get(URL, REMOTE_ADDR=address))


@pytest.mark.django_db
def test_throttle__at_the_limit__refused_until_the_window_slides_then_served(
    user_rate, user_client: APIClient, clock: Clock
):
    # Given a user allowed 10 requests a minute, who spends them 50 s into a minute
    user_rate("10/minute")
    clock.now = MINUTE_START + 50
    assert [user_client.get(URL).status_code for _ in range(10)] == [200] * 10
    # When it asks again, and again and again as the next minute begins
    refused = user_client.get(URL)
    clock.now = MINUTE_START + 60.5
    at_next_minute = [user_client.get(URL) for _ in range(20)]
    # Then it waits until its 10, taken as spread over their minute, leave room for 1: 6 s into the
    # next minute, 16 s from now; a fixed window would have served it afresh at the minute.
    assert refused.status_code == 429
    assert refused["Retry-After"] == "16"
    assert {response.status_code for response in at_next_minute} == {429}
    assert at_next_minute[-1]["Retry-After"] == "6"
    assert '"user";r=0;t=6' in at_next_minute[-1]["RateLimit"]
    # And the refused requests did not count: it is served when Retry-After said, once
    clock.now = MINUTE_START + 66
    assert [user_client.get(URL).status_code for _ in range(2)] == [200, 429]
    # And half way through the minute, half of the first 10 have slid out: 5 + 1 + 4 more = 10
    clock.now = MINUTE_START + 90
    responses = [user_client.get(URL) for _ in range(5)]
    assert [response.status_code for response in responses] == [200, 200, 200, 200, 429]
    assert '"user";r=0;' in responses[3]["RateLimit"]


def test_throttle__5000_requests_in_a_minute__two_small_integers_in_redis(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, clock: Clock
):
    # Given an address allowed 12,000 requests a minute (an API key's default rate)
    monkeypatch.setattr(IpRateThrottle, "THROTTLE_RATES", {"ip": "12000/minute"})
    request = address_request()
    # When it makes 5,000 within the minute
    clock.now = MINUTE_START + 30
    assert all(IpRateThrottle().allow_request(request, None) for _ in range(5000))
    # Then the throttle keeps one integer for it, not 5,000 timestamps; a second one in the next minute
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{settings.CACHES['throttle']['KEY_PREFIX']}:*"))
    assert [client.get(key) for key in keys] == [b"5000"]
    clock.now = MINUTE_START + 65
    assert IpRateThrottle().allow_request(request, None)
    keys = list(client.scan_iter(match=f"{settings.CACHES['throttle']['KEY_PREFIX']}:*"))
    assert sorted(client.get(key) for key in keys) == [b"1", b"5000"]
    # And the answers count them all
    states = getattr(request._request, THROTTLE_STATES_ATTRIBUTE)
    assert states[4999].remaining == 7000
    # 5 s into the next minute: 55/60 of the 5,000 (4,583.3) and the new one
    assert states[-1].remaining == 12000 - 4585


def test_throttle__16_threads_at_once_on_redis__serve_exactly_the_limit(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
):
    # Given an address allowed 50 requests a minute
    monkeypatch.setattr(IpRateThrottle, "THROTTLE_RATES", {"ip": "50/minute"})
    threads, attempts = 16, 10
    start = threading.Barrier(threads)
    served: list[bool] = []

    def client() -> None:
        request = address_request()
        start.wait()
        outcomes = [IpRateThrottle().allow_request(request, None) for _ in range(attempts)]
        served.extend(outcome for outcome in outcomes if outcome)

    # When 16 clients behind it make 160 requests at once, each throttle on its own Redis connection
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    # Then exactly 50 are served: the count is incremented atomically, and a refused one gives its unit back
    assert not any(worker.is_alive() for worker in workers)
    assert len(served) == 50


@pytest.fixture
def throttle_cache_unreachable(settings) -> Iterator[Callable[[str], None]]:  # type: ignore[no-untyped-def]
    def point_at_nothing(backend: str) -> None:
        # Nothing listens on port 1 of the loopback address.
        settings.CACHES = {
            **settings.CACHES,
            "throttle": {
                "BACKEND": backend,
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
            },
        }

    yield point_at_nothing
    ResilientRedisCache.forget_failures()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "backend", ["portal.cache.ResilientRedisCache", "django.core.cache.backends.redis.RedisCache"]
)
def test_throttle__redis_unreachable__lets_requests_through(
    backend: str, user_rate, user_client: APIClient, throttle_cache_unreachable
):
    # Given a user allowed 1 request a minute, refused a second one while the cache answers
    user_rate("1/minute")
    assert [user_client.get(URL).status_code for _ in range(2)] == [200, 429]
    # When the throttle cache is a Redis that does not answer (the project's, or Django's own)
    throttle_cache_unreachable(backend)
    # Then nothing is counted, and every request is served rather than failing with Redis
    responses = [user_client.get(URL) for _ in range(3)]
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert '"user";r=0;' in responses[-1]["RateLimit"]
