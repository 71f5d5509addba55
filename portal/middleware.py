"""Keeps the problem details format for errors that Django raises outside DRF on /api/ paths, turns
a database conflict (an IntegrityError no service caught) into a 409 everywhere (problem details on
/api/ paths, a page that says what happened on the others), a lost database connection into a 503
with Retry-After (a read is tried once more on a new connection first), and refuses a NUL character
in a query string (400) before any view runs. (Merchant pages' language and zone: accounts.middleware.)"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import IntegrityError, connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import translation

from .errors import DATABASE_LOST, PROBLEM_CONTENT_TYPE, database_conflict, problem_json_response

logger = logging.getLogger("portal.api")

# Seconds a client is told to wait when the database is away; a restart or a failover takes a few.
DATABASE_RETRY_AFTER_SECONDS = 5
# A request that only reads is tried once more when the database connection was lost under it:
# it changed nothing, and a new connection usually works (a restarted server, a failover, a killed
# backend). A write is not retried: its commit may have happened before the connection broke, and
# the 503 tells the client to retry (with the Idempotency-Key where the API takes one).
RETRIED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRIED_ATTRIBUTE = "_portal_database_retried"

API_PREFIX = "/api/"
# The admin and the API show times in UTC and follow the browser's (or the switch's) language;
# the health check is for machines.
NOT_MERCHANT_PREFIXES = (API_PREFIX, "/admin/", "/healthz")


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: problem details on /api/ paths, a page elsewhere."""
    if request.path.startswith(API_PREFIX):
        response: HttpResponse = problem_json_response(
            503,
            detail="The database is unavailable; try again shortly.",
            code="database-unavailable",
        )
    else:
        # A page of its own that reads nothing from the database (no user, no messages).
        response = render(request, "503.html", status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def is_merchant_path(path: str) -> bool:
    return not path.startswith(NOT_MERCHANT_PREFIXES)


def language_from_cookie(request: HttpRequest) -> str | None:
    """The language chosen with the switch in this browser, if it is one of the site's."""
    code = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


class RefuseNulInQueryMiddleware:
    """A NUL character in a query parameter's name or value is a 400, on every page, filter and endpoint.

    PostgreSQL refuses a NUL in a query, so such a filter (an admin list's `?recommendation=`, an API
    list's `?search=`) would otherwise reach the database and end in a 500. No field holds one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "%00" not in query and "\x00" not in query:
            return self.get_response(request)
        names = sorted(
            name.replace("\x00", "") or "query"
            for name, values in request.GET.lists()
            if "\x00" in name or any("\x00" in value for value in values)
        )
        if not names:
            return self.get_response(request)
        message = "A query parameter cannot contain a NUL character."
        if request.path.startswith(API_PREFIX):
            return problem_json_response(400, detail=message, errors={name: [message] for name in names})
        return HttpResponseBadRequest(f"{message} ({', '.join(names)})", content_type="text/plain")


class ApiProblemMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith((PROBLEM_CONTENT_TYPE, "application/json")):
            return response
        # A 404 from the URL resolver, a CSRF 403, a 405 or 500 page from Django itself.
        problem = problem_json_response(response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                problem[header] = response[header]
        return problem

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_LOST):
            return self.database_lost(request, exception)
        if isinstance(exception, IntegrityError):
            logger.warning(
                "Integrity error on %s %s answered with 409: %s", request.method, request.path, exception
            )
            conflict = database_conflict(exception)
            if request.path.startswith(API_PREFIX):
                return problem_json_response(
                    409, detail=conflict.detail, code="conflict", errors=conflict.errors
                )
            return render(request, "409.html", {"detail": conflict.detail}, status=409)
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, Http404):
            return problem_json_response(404, detail="Not found.")
        if isinstance(exception, PermissionDenied):
            return problem_json_response(403)
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return problem_json_response(
                413, detail=f"The request body is larger than the limit of {limit} bytes."
            )
        if isinstance(exception, (BadRequest, SuspiciousOperation)):
            return problem_json_response(400)
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return problem_json_response(500, detail="An unexpected error occurred.")

    def database_lost(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Retry a read once on a new connection; else (or when that fails too) answer 503."""
        match = request.resolver_match
        if (
            request.method in RETRIED_METHODS
            and match is not None
            and not connection.in_atomic_block
            and not getattr(request, RETRIED_ATTRIBUTE, False)
        ):
            setattr(request, RETRIED_ATTRIBUTE, True)
            logger.warning("Database lost on %s %s, retried: %s", request.method, request.path, exception)
            connection.close()  # the next query opens a new connection
            try:
                return match.func(request, *match.args, **match.kwargs)
            except Exception as again:
                # Answered as if the retry's error were the first (a 503 if the database is still away).
                response = self.process_exception(request, again)
                if response is None:
                    raise
                return response
        logger.warning("Database lost on %s %s, answered 503: %s", request.method, request.path, exception)
        return database_unavailable_response(request)
