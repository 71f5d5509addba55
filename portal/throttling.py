"""The API's throttles: per key, per user or per anonymous client, and per IP, with RateLimit fields.

Each throttle is a sliding-window counter: per client, one integer for the current fixed window and
one for the previous, kept with the cache's atomic `add` and `incr`. The requests of the last window
are estimated as the current count plus the previous one weighted by the part of the previous window
still inside the sliding one, as if its requests had been evenly spread. A request costs the same
whatever the client's rate (DRF's own throttles keep a list of timestamps as long as the rate), and
concurrent requests cannot overshoot the rate, since each one's increment is atomic. The estimate is
an approximation, which is fine for abuse protection; the share quota, which must be exact, is not a
throttle. Each throttle records its state on the request, and RateLimitHeadersMiddleware turns the
states into the IETF `RateLimit-Policy` and `RateLimit` fields of the response.
"""

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from portal.api_keys import request_api_key
from portal.cache import UNREACHABLE

THROTTLE_STATES_ATTRIBUTE = "_portal_throttle_states"
# Redis unreachable (a cache without the project's fallbacks, or `incr`, which has none), or a
# counter gone between the read and the increment (Django's `incr` of a missing key).
COUNTER_FAILURES = (*UNREACHABLE, ValueError)


@dataclass(frozen=True, slots=True)
class ThrottleState:
    name: str
    limit: int
    window_seconds: int
    remaining: int
    reset_seconds: int


@dataclass(frozen=True, slots=True)
class SlidingCount:
    """A client's counts in the previous and the current fixed window, `elapsed` seconds into the current."""

    previous: int
    current: int
    elapsed: float
    window: int

    @property
    def estimate(self) -> float:
        """The requests of the last `window` seconds, the previous window's taken as evenly spread."""
        return self.previous * (1 - self.elapsed / self.window) + self.current

    def seconds_until_at_most(self, target: float) -> float:
        """Seconds until the estimate falls to `target`, if no request is counted meanwhile."""
        # A rate of 0 never frees a request; then this is the time until nothing is counted.
        target = max(target, 0.0)
        if self.estimate <= target:
            return 0.0
        if self.current <= target:
            # The previous window's requests slide out before this window ends.
            return self.window * (1 - (target - self.current) / self.previous) - self.elapsed
        # This window's requests must slide out too, during the next window.
        return 2 * self.window - self.elapsed - self.window * target / self.current


def principal_identity(request: Request, ident: str) -> tuple[str, str]:
    """The kind of principal ("api_key", "user" or "anon") and its throttle identity."""
    key = request_api_key(request)
    if key is not None:
        return "api_key", f"key:{key.prefix}"
    user = request.user
    if user is not None and user.is_authenticated:
        return "user", f"user:{user.pk}"
    return "anon", f"ip:{ident}"


class PortalRateThrottle(SimpleRateThrottle):
    """A sliding-window counter in the "throttle" cache that reports its state on the request.

    When Redis is unreachable the cache reads nothing and keeps nothing (portal/cache.py), so every
    request is let through: throttles protect the site, and must not take it down with Redis.
    """

    rate: str | None
    num_requests: int | None
    duration: int | None
    counts: SlidingCount
    # The name in the RateLimit fields; the scope names the rate in DEFAULT_THROTTLE_RATES.
    policy_name = ""

    @property
    def cache(self) -> BaseCache:  # type: ignore[override]
        # Looked up on use, not at import, so that the throttles follow the CACHES setting.
        return caches["throttle"]

    def identity(self, request: Request) -> str:
        return f"ip:{self.get_ident(request)}"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.identity(request)}

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.num_requests is None or self.duration is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        allowed = self._count(self.key, limit=self.num_requests, window=self.duration)
        self._record(request)
        return allowed

    def _count(self, key: str, *, limit: int, window: int) -> bool:
        """Count the request in its fixed window, unless the sliding estimate is at the limit."""
        window_index, elapsed = divmod(self.timer(), window)
        current_key, previous_key = f"{key}:{int(window_index)}", f"{key}:{int(window_index) - 1}"
        self.counts = SlidingCount(previous=0, current=0, elapsed=elapsed, window=window)
        try:
            stored = self.cache.get_many([previous_key, current_key])
            self.counts = replace(
                self.counts, previous=stored.get(previous_key, 0), current=stored.get(current_key, 0)
            )
            if self.counts.estimate + 1 > limit:
                return False
            current = self._increment(current_key, exists=current_key in stored, window=window)
        except COUNTER_FAILURES:
            current = None
        if current is None:
            # Nothing to count with: let the request through, as if it were the window's next one.
            self.counts = replace(self.counts, current=self.counts.current + 1)
            return True
        self.counts = replace(self.counts, current=current)
        if self.counts.estimate > limit:
            # Requests counted since the read took the room left. Refused requests do not count.
            with contextlib.suppress(*COUNTER_FAILURES):
                self.cache.decr(current_key)
            self.counts = replace(self.counts, current=current - 1)
            return False
        return True

    def _increment(self, current_key: str, *, exists: bool, window: int) -> int | None:
        """The window's count with this request, or None when the cache keeps nothing."""
        cache = self.cache
        # A window's count lives through the next window, where it is the previous count.
        if not exists and not cache.add(current_key, 0, 2 * window) and not cache.has_key(current_key):
            # Neither read nor written: Redis is unreachable, or skipped after a failure; `incr`
            # would wait for it again.
            return None
        return cache.incr(current_key)

    def wait(self) -> float | None:
        """Seconds until the estimate leaves room for one request (DRF's Retry-After)."""
        if self.num_requests is None:
            return None
        return self.counts.seconds_until_at_most(self.num_requests - 1)

    def _record(self, request: Request) -> None:
        assert self.num_requests is not None and self.duration is not None
        remaining = max(0, math.floor(self.num_requests - self.counts.estimate))
        # Seconds until more requests are available (the draft's "t" for sliding windows): one more
        # than now, which is Retry-After when none is; rounded up, so a client that waits `t` is served.
        reset = self.counts.seconds_until_at_most(self.num_requests - remaining - 1)
        state = ThrottleState(
            name=self.policy_name or self.scope or "api",
            limit=self.num_requests,
            window_seconds=self.duration,
            remaining=remaining,
            reset_seconds=max(1, math.ceil(reset)),
        )
        django_request = request._request
        states = getattr(django_request, THROTTLE_STATES_ATTRIBUTE, [])
        states.append(state)
        setattr(django_request, THROTTLE_STATES_ATTRIBUTE, states)


class PrincipalRateThrottle(PortalRateThrottle):
    """One budget per API key, per signed-in user, or per anonymous client address.

    The rate follows the kind of principal: `api_key`, `user` or `anon` in the rates setting.
    """

    scope = "user"

    def __init__(self) -> None:
        # The rate depends on the request, so it is chosen in allow_request.
        self.rate = None
        self.num_requests = None
        self.duration = None

    def identity(self, request: Request) -> str:
        return principal_identity(request, self.get_ident(request))[1]

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = principal_identity(request, self.get_ident(request))[0]
        self.policy_name = self.scope
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        assert self.num_requests is not None and self.duration is not None, f"no rate for {self.scope}"
        return super().allow_request(request, view)


class IpRateThrottle(PortalRateThrottle):
    """One budget per client address, whoever signs in from it."""

    scope = "ip"


class PrincipalScopedRateThrottle(PortalRateThrottle):
    """A named rate (`scope`) for one endpoint, counted per key, user or anonymous address."""

    def identity(self, request: Request) -> str:
        return principal_identity(request, self.get_ident(request))[1]


def rate_limit_fields(states: list[ThrottleState]) -> dict[str, str]:
    """The IETF RateLimit-Policy and RateLimit fields of throttle states."""
    return {
        "RateLimit-Policy": ", ".join(f'"{s.name}";q={s.limit};w={s.window_seconds}' for s in states),
        "RateLimit": ", ".join(f'"{s.name}";r={s.remaining};t={s.reset_seconds}' for s in states),
    }


class RateLimitHeadersMiddleware:
    """Add the throttles' RateLimit fields to an API response, after any a view set itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        states: list[ThrottleState] = getattr(request, THROTTLE_STATES_ATTRIBUTE, [])
        if states:
            for name, value in rate_limit_fields(states).items():
                existing = response.get(name)
                response[name] = f"{existing}, {value}" if existing else value
        return response
