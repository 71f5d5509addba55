"""Keeps the problem details format for errors that Django raises outside DRF on /api/ paths, and turns
a database conflict (an IntegrityError no service caught) into a 409 everywhere: problem details on
/api/ paths, a page that says what happened on the others."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .errors import PROBLEM_CONTENT_TYPE, database_conflict, problem_json_response

logger = logging.getLogger("portal.api")

API_PREFIX = "/api/"


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
