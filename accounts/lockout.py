"""Login lockout (django-axes): the address a failure counts against and what a locked-out client is told."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from portal.errors import ApplicationError, problem_json_response
from portal.middleware import API_PREFIX

LOCKOUT_TEMPLATE = "registration/locked_out.html"


def client_ip_address(request: HttpRequest | Request) -> str | None:
    """The client's address as the API's throttles see it: X-Forwarded-For counts past API_NUM_PROXIES."""
    address: str | None = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    try:
        ipaddress.ip_address(address or "")
    except ValueError:
        # Not an address (a proxy that writes something else): the connection's, as the column needs one.
        return request.META.get("REMOTE_ADDR")
    return address


def lockout_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_message() -> str:
    minutes = lockout_minutes()
    return ngettext(
        "Too many failed log-ins for this username or from this address. "
        "Log-in is refused, even with the right password, for %(minutes)d minute after the last attempt.",
        "Too many failed log-ins for this username or from this address. "
        "Log-in is refused, even with the right password, for %(minutes)d minutes after the last attempt.",
        minutes,
    ) % {"minutes": minutes}


def retry_after_seconds() -> int:
    # Every attempt while locked out restarts the cool-off, so the wait is always the whole of it.
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


class LoginLockedOut(ApplicationError):
    """The username or the client's address is locked out after repeated failed log-ins."""

    status_code = 429
    code = "login-locked-out"

    def __init__(self) -> None:
        super().__init__(lockout_message(), headers={"Retry-After": str(retry_after_seconds())})


def request_is_locked_out(request: HttpRequest | Request) -> bool:
    """Whether django-axes refused, or locked out after, the log-in attempt this request just made."""
    return bool(getattr(request, "axes_locked_out", False))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the lockout page, or problem details under /api/; 429 with Retry-After."""
    response: HttpResponse
    if request.path.startswith(API_PREFIX):
        response = problem_json_response(429, detail=lockout_message(), code=LoginLockedOut.code)
    else:
        context = {"message": lockout_message(), "minutes": lockout_minutes(), "title": _("Log-in locked")}
        response = render(request, LOCKOUT_TEMPLATE, context, status=429)
    response["Retry-After"] = str(retry_after_seconds())
    return response
