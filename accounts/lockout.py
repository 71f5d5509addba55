"""Login lockout (django-axes): which failures refuse a log-in, the address they count against, and what a
refused client is told.

Over the failed attempts of the last LOGIN_LOCKOUT_MINUTES (each row of django-axes is one username, address
and user agent, with its last failure's time):

- one username from one address is locked after LOGIN_FAILURE_LIMIT failures, so a stranger failing from
  elsewhere never locks its owner out;
- one address is held back after LOGIN_ADDRESS_FAILURE_LIMIT failures over any usernames (credential
  stuffing), a higher limit so that the people behind one office's NAT are not locked out by a few typos;
- one username that failed LOGIN_FAILURE_LIMIT times over all addresses is slowed, never locked: an address
  that already failed for it waits before its next try, a delay that doubles with each further failure (up
  to the cool-off). An address that never failed for it, its owner's, is not held back.

A refused attempt is not recorded, so a lockout ends LOGIN_LOCKOUT_MINUTES after the failure that caused
it, whatever is tried meanwhile; Retry-After says when.
"""

import enum
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from portal.errors import ApplicationError, problem_json_response
from portal.middleware import API_PREFIX

LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Where the handler leaves its verdict for the lockout page and the token endpoint.
REFUSAL_ATTRIBUTE = "login_refusal"


def client_ip_address(request: HttpRequest | Request) -> str | None:
    """The client's address as the API's throttles see it: X-Forwarded-For counts past API_NUM_PROXIES."""
    address: str | None = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    try:
        ipaddress.ip_address(address or "")
    except ValueError:
        # Not an address (a proxy that writes something else): the connection's, as the column needs one.
        return request.META.get("REMOTE_ADDR")
    return address


def cool_off() -> timedelta:
    cool_off_time: timedelta = settings.AXES_COOLOFF_TIME
    return cool_off_time


def pair_failure_limit() -> int:
    return int(settings.AXES_FAILURE_LIMIT)


def address_failure_limit() -> int:
    return int(settings.LOGIN_ADDRESS_FAILURE_LIMIT)


class RefusalReason(enum.StrEnum):
    PAIR = "pair"
    ADDRESS = "address"
    SLOWED = "slowed"


@dataclass(frozen=True)
class LoginRefusal:
    """Why a log-in attempt is refused before its password is checked, and for how many seconds more."""

    reason: RefusalReason
    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        if self.reason == RefusalReason.SLOWED:
            return ngettext(
                "Too many failed log-ins for this username. Wait %(seconds)d second before trying again.",
                "Too many failed log-ins for this username. Wait %(seconds)d seconds before trying again.",
                self.retry_after,
            ) % {"seconds": self.retry_after}
        if self.reason == RefusalReason.ADDRESS:
            return ngettext(
                "Too many failed log-ins from this address. Log-in from it is refused, even with the right "
                "password, for %(minutes)d more minute.",
                "Too many failed log-ins from this address. Log-in from it is refused, even with the right "
                "password, for %(minutes)d more minutes.",
                minutes,
            ) % {"minutes": minutes}
        return ngettext(
            "Too many failed log-ins for this username from this address. Log-in is refused, even with the "
            "right password, for %(minutes)d more minute.",
            "Too many failed log-ins for this username from this address. Log-in is refused, even with the "
            "right password, for %(minutes)d more minutes.",
            minutes,
        ) % {"minutes": minutes}


def _seconds_until_below(rows: list[tuple[datetime, int]], limit: int, *, now: datetime) -> int:
    """Seconds until the failures of rows (last failure, count) fall below limit as the rows expire."""
    remaining = sum(count for _time, count in rows)
    expires = now
    for last_failure, count in sorted(rows):
        if remaining < limit:
            break
        remaining -= count
        expires = last_failure + cool_off()
    return max(1, math.ceil((expires - now).total_seconds()))


def slow_down_delay(failures_for_username: int) -> timedelta:
    """The wait between tries from an address that failed for a username with this many recent failures."""
    excess = failures_for_username - pair_failure_limit()
    if excess < 0:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(excess, 30)), cool_off())


def login_refusal(*, username: str | None, ip_address: str | None, now: datetime) -> LoginRefusal | None:
    """Whether a log-in for username from ip_address is refused now, by which rule and for how long."""
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - cool_off())
    from_address = list(
        recent.filter(ip_address=ip_address).values_list("username", "attempt_time", "failures_since_start")
    )
    pair = [(last, count) for name, last, count in from_address if name == username]
    if sum(count for _last, count in pair) >= pair_failure_limit():
        return LoginRefusal(RefusalReason.PAIR, _seconds_until_below(pair, pair_failure_limit(), now=now))
    address = [(last, count) for _name, last, count in from_address]
    if sum(count for _last, count in address) >= address_failure_limit():
        return LoginRefusal(
            RefusalReason.ADDRESS, _seconds_until_below(address, address_failure_limit(), now=now)
        )
    if pair:
        failures_for_username = (
            recent.filter(username=username).aggregate(total=Sum("failures_since_start"))["total"] or 0
        )
        next_try = max(last for last, _count in pair) + slow_down_delay(failures_for_username)
        if next_try > now:
            return LoginRefusal(RefusalReason.SLOWED, max(1, math.ceil((next_try - now).total_seconds())))
    return None


class LoginAttemptHandler(AxesDatabaseHandler):
    """django-axes' database handler with the rules above in place of its one limit per parameter."""

    def _refusal(self, request: Any, credentials: dict[str, Any] | None) -> LoginRefusal | None:
        refusal = login_refusal(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
            now=getattr(request, "axes_attempt_time", None) or timezone.now(),
        )
        setattr(request, REFUSAL_ATTRIBUTE, refusal)
        return refusal

    def is_locked(self, request: Any, credentials: dict[str, Any] | None = None) -> bool:
        """Before the password is checked: refused by any of the three rules."""
        return self._refusal(request, credentials) is not None

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        """After a failure is recorded: the limit when it locked the pair or the address, else 0.

        django-axes locks out the failing attempt itself when this reaches AXES_FAILURE_LIMIT. Being slowed
        is not locked: the failure is answered as a wrong password, and the next try waits.
        """
        refusal = self._refusal(request, credentials)
        if refusal is not None and refusal.reason != RefusalReason.SLOWED:
            return pair_failure_limit()
        setattr(request, REFUSAL_ATTRIBUTE, None)
        return 0


def request_refusal(request: HttpRequest | Request) -> LoginRefusal:
    """The refusal the handler found for this request (the whole cool-off of the pair if none is known)."""
    refusal = getattr(request, REFUSAL_ATTRIBUTE, None)
    if isinstance(refusal, LoginRefusal):
        return refusal
    return LoginRefusal(RefusalReason.PAIR, int(cool_off().total_seconds()))


class LoginLockedOut(ApplicationError):
    """The log-in attempt is refused after repeated failed log-ins (see the module's rules)."""

    status_code = 429
    code = "login-locked-out"

    def __init__(self, refusal: LoginRefusal) -> None:
        super().__init__(refusal.message, headers={"Retry-After": str(refusal.retry_after)})


def request_is_locked_out(request: HttpRequest | Request) -> bool:
    """Whether django-axes refused, or locked out after, the log-in attempt this request just made."""
    return bool(getattr(request, "axes_locked_out", False))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the lockout page, or problem details under /api/; 429 with Retry-After."""
    refusal = request_refusal(request)
    response: HttpResponse
    if request.path.startswith(API_PREFIX):
        response = problem_json_response(429, detail=refusal.message, code=LoginLockedOut.code)
    else:
        context = {"message": refusal.message, "title": _("Log-in locked")}
        response = render(request, LOCKOUT_TEMPLATE, context, status=429)
    response["Retry-After"] = str(refusal.retry_after)
    return response
