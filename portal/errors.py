"""The project's one error format: RFC 9457 problem details, for business rules and HTTP errors."""

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
NON_FIELD_KEY = api_settings.NON_FIELD_ERRORS_KEY


class ApplicationError(Exception):
    """A business rule refused the request; the message is safe to show to the user."""

    status_code = 400
    code = "application-error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = dict(headers) if headers else {}
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.errors = dict(errors) if errors else {}


class Conflict(ApplicationError):
    """The request conflicts with the current state of the resource."""

    status_code = 409
    code = "conflict"


class Forbidden(ApplicationError):
    """The actor may not do this."""

    status_code = 403
    code = "permission-denied"


def problem_body(
    status: int,
    *,
    detail: str = "",
    title: str | None = None,
    code: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The members of a problem details object."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {
        "type": f"urn:portal:problem:{code}" if code else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if errors:
        body["errors"] = dict(errors)
    return body


def problem_json_response(status: int, **kwargs: Any) -> JsonResponse:
    """A plain Django response carrying a problem, for errors raised outside DRF."""
    return JsonResponse(
        problem_body(status, **kwargs),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into {"field.0.sub": ["message"]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = NON_FIELD_KEY if key == NON_FIELD_ERRORS else str(key)
            flat.update(flatten_errors(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (Mapping, list)) for item in detail):
            flat[prefix or NON_FIELD_KEY] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        flat[prefix or NON_FIELD_KEY] = [str(detail)]
    return flat


def django_validation_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            (NON_FIELD_KEY if field == NON_FIELD_ERRORS else field): list(messages)
            for field, messages in exc.message_dict.items()
        }
    return {NON_FIELD_KEY: list(exc.messages)}


def _first_message(errors: Mapping[str, list[str]]) -> str:
    for field, messages in errors.items():
        if messages:
            return messages[0] if field == NON_FIELD_KEY else f"{field}: {messages[0]}"
    return ""


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF exception handler: every error becomes problem details."""
    headers: dict[str, str] = {}
    if isinstance(exc, DjangoValidationError):
        errors = django_validation_errors(exc)
        body = problem_body(
            400,
            title="Invalid input.",
            detail=_first_message(errors),
            code="validation-error",
            errors=errors,
        )
    elif isinstance(exc, ApplicationError):
        headers.update(exc.headers)
        body = problem_body(exc.status_code, detail=exc.message, code=exc.code, errors=exc.errors or None)
    elif isinstance(exc, Http404):
        body = problem_body(404, detail="Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        body = problem_body(403, detail="You do not have permission to perform this action.")
    elif isinstance(exc, drf_exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        body = problem_body(
            400,
            title="Invalid input.",
            detail=_first_message(errors),
            code="validation-error",
            errors=errors,
        )
    elif isinstance(exc, drf_exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        body = problem_body(exc.status_code, detail=detail)
    else:
        return None
    set_rollback()
    response = Response(body, status=body["status"], headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response
