"""The API's throttles: per key, per user or per anonymous client, and per IP, with RateLimit fields.

DRF's throttles approximate (a burst from several workers can pass a little over the rate),
which is fine for abuse protection; the share quota, which must be exact, is not a throttle.
Each throttle records its state on the request, and RateLimitHeadersMiddleware turns the
states into the IETF `RateLimit-Policy` and `RateLimit` fields of the response.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

THROTTLE_STATES_ATTRIBUTE = "_portal_throttle_states"


@dataclass(frozen=True, slots=True)
class ThrottleState:
    name: str
    limit: int
    window_seconds: int
    remaining: int
    reset_seconds: int


def principal_identity(request: Request, ident: str) -> tuple[str, str]:
    """The kind of principal ("api_key", "user" or "anon") and its throttle identity."""
    from integrations.authentication import request_api_key

    key = request_api_key(request)
    if key is not None:
        return "api_key", f"key:{key.prefix}"
    user = request.user
    if user is not None and user.is_authenticated:
        return "user", f"user:{user.pk}"
    return "anon", f"ip:{ident}"


class PortalRateThrottle(SimpleRateThrottle):
    """A sliding-window throttle in the "throttle" cache that reports its state on the request."""

    cache = caches["throttle"]
    rate: str | None
    num_requests: int | None
    duration: int | None
    # The name in the RateLimit fields; the scope names the rate in DEFAULT_THROTTLE_RATES.
    policy_name = ""

    def identity(self, request: Request) -> str:
        return f"ip:{self.get_ident(request)}"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.identity(request)}

    def allow_request(self, request: Request, view: Any) -> bool:
        allowed = super().allow_request(request, view)
        if self.rate is not None and self.num_requests is not None and self.duration is not None:
            self._record(request, allowed=allowed)
        return allowed

    def _record(self, request: Request, *, allowed: bool) -> None:
        assert self.num_requests is not None and self.duration is not None
        history = getattr(self, "history", [])
        remaining = max(0, self.num_requests - len(history))
        reset = max(0, math.ceil(history[-1] + self.duration - self.now)) if history else self.duration
        if not allowed:
            # Rounded up like DRF's Retry-After, so a client that waits `t` is not refused again.
            reset = max(1, math.ceil(self.wait() or 0))
        state = ThrottleState(
            name=self.policy_name or self.scope or "api",
            limit=self.num_requests,
            window_seconds=self.duration,
            remaining=remaining,
            reset_seconds=reset,
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

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope, ident = principal_identity(request, self.get_ident(request))
        self.policy_name = self.scope
        self.rate = self.get_rate()
        num_requests, duration = self.parse_rate(self.rate)
        assert num_requests is not None and duration is not None, f"no rate for {self.scope}"
        self.num_requests, self.duration = num_requests, duration
        self.key = self.cache_format % {"scope": self.scope, "ident": ident}
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - duration:
            self.history.pop()
        allowed = len(self.history) < num_requests
        if allowed:
            self.throttle_success()
        self._record(request, allowed=allowed)
        return allowed


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
