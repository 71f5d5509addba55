"""The project's one error format: RFC 9457 problem details, for business rules and HTTP errors."""

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, models
from django.http import Http404, JsonResponse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
NON_FIELD_KEY = api_settings.NON_FIELD_ERRORS_KEY
# The database went away under a request (a dropped connection, a server restarting or not answering
# within its timeouts): a 503 with Retry-After, never a 500 (portal/middleware.py, portal/views.py).
DATABASE_LOST = (OperationalError, InterfaceError)


class ApplicationError(Exception):
    """A business rule refused the request; the message is safe to show to the user."""

    status_code = 400
    code = "application-error"
    title: str | None = None

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


class InvalidInput(ApplicationError):
    """Input that breaks the rule of one or more fields: a 400 naming each field, as a form shows it.

    `errors` maps field names (or "non_field_errors") to messages; a plain message is a non-field one.
    """

    status_code = 400
    code = "validation-error"
    title = "Invalid input."

    def __init__(self, errors: Mapping[str, Any] | str, *, headers: Mapping[str, str] | None = None) -> None:
        if isinstance(errors, str):
            errors = {NON_FIELD_KEY: [errors]}
        named = {
            str(field): [
                str(message) for message in (messages if isinstance(messages, (list, tuple)) else [messages])
            ]
            for field, messages in errors.items()
        }
        super().__init__(_first_message(named), errors=named, headers=headers)

    @classmethod
    def from_django(cls, exc: DjangoValidationError) -> "InvalidInput":
        """A model's or validator's ValidationError (full_clean, a field validator) in the one error type."""
        return cls(django_validation_errors(exc))


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


# Database conflicts: an IntegrityError that no service turned into a business error (a race the
# service did not foresee) is a 409 naming what it conflicts with, never a 500 and never the SQL.

_SQLSTATE_KINDS = {"23505": "unique", "23503": "foreign_key", "23514": "check", "23502": "not_null"}
_SQLITE_KINDS = {"UNIQUE": "unique", "FOREIGN KEY": "foreign_key", "CHECK": "check", "NOT NULL": "not_null"}


@dataclass(frozen=True)
class DatabaseConflict:
    """What an integrity error conflicts with, in words safe to show to the client."""

    detail: str
    errors: Mapping[str, list[str]] | None = None


def _violation(exc: IntegrityError) -> tuple[str, str, str, list[str]]:
    """The kind of violation, the table, the constraint and the columns, as the database reports them."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    if diag is not None:  # psycopg
        kind = _SQLSTATE_KINDS.get(getattr(cause, "sqlstate", "") or "", "")
        detail = diag.message_detail or ""
        match = re.match(r"Key \((.+?)\)=", detail)
        columns = [c.strip() for c in match.group(1).split(",")] if match else []
        if diag.column_name:
            columns.append(diag.column_name)
        return kind, diag.table_name or "", diag.constraint_name or "", columns
    # SQLite: "UNIQUE constraint failed: table.column, table.column" or "CHECK constraint failed: name"
    match = re.match(r"(UNIQUE|FOREIGN KEY|CHECK|NOT NULL) constraint failed(?:: (.*))?", str(exc))
    if match is None:
        return "", "", "", []
    kind, names = _SQLITE_KINDS[match.group(1)], (match.group(2) or "").split(", ")
    qualified = [name.split(".", 1) for name in names if "." in name]
    if qualified:
        return kind, qualified[0][0], "", [column for _table, column in qualified]
    # An expression index: "UNIQUE constraint failed: index 'accounts_user_email_unique_ci'"
    return kind, "", names[0].removeprefix("index ").strip("'"), []


def _referenced_fields(expression: Any) -> list[str]:
    """The fields an expression such as Lower("email") is made of."""
    if isinstance(expression, models.F):
        return [expression.name]
    sources = expression.get_source_expressions() if hasattr(expression, "get_source_expressions") else []
    return [name for source in sources for name in _referenced_fields(source)]


def _constrained_fields(model: type[models.Model], constraint_name: str, columns: list[str]) -> list[str]:
    """The model fields a constraint covers: from the model's own constraints, else from the columns."""
    for constraint in model._meta.constraints:
        if constraint.name == constraint_name and isinstance(constraint, models.UniqueConstraint):
            if constraint.fields:
                return list(constraint.fields)
            return [name for expression in constraint.expressions for name in _referenced_fields(expression)]
    by_column = {getattr(f, "column", None): f.name for f in model._meta.concrete_fields}
    return [by_column[column] for column in columns if column in by_column]


def database_conflict(exc: IntegrityError) -> DatabaseConflict:
    """Name the model and fields behind an integrity error, never its SQL or the values in it."""
    kind, table, constraint_name, columns = _violation(exc)
    model = next((m for m in apps.get_models() if m._meta.db_table == table), None) if table else None
    if model is None and constraint_name:
        named = (m for m in apps.get_models() if any(c.name == constraint_name for c in m._meta.constraints))
        model = next(named, None)
    if model is None:
        return DatabaseConflict(_("The request conflicts with the current data; reload and try again."))
    model_name = str(capfirst(model._meta.verbose_name))
    if kind == "unique":
        names = _constrained_fields(model, constraint_name, columns)
        try:
            labels = [str(getattr(model._meta.get_field(name), "verbose_name", name)) for name in names]
        except FieldDoesNotExist:
            labels = []
        if labels:
            return DatabaseConflict(
                _("%(model)s with this %(fields)s already exists.")
                % {"model": model_name, "fields": _(" and ").join(labels)},
                {name: [_("Already in use.")] for name in names},
            )
        return DatabaseConflict(_("%(model)s already exists.") % {"model": model_name})
    if kind == "foreign_key":
        return DatabaseConflict(
            _("%(model)s refers to something that was removed meanwhile; reload and try again.")
            % {"model": model_name}
        )
    return DatabaseConflict(
        _("%(model)s conflicts with the current data; reload and try again.") % {"model": model_name}
    )


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF exception handler: every error becomes problem details."""
    headers: dict[str, str] = {}
    # Input refused by a model, a validator or a serializer is the one business error type too.
    if isinstance(exc, DjangoValidationError):
        exc = InvalidInput.from_django(exc)
    elif isinstance(exc, drf_exceptions.ValidationError):
        exc = InvalidInput(flatten_errors(exc.detail))
    if isinstance(exc, ApplicationError):
        headers.update(exc.headers)
        body = problem_body(
            exc.status_code, title=exc.title, detail=exc.message, code=exc.code, errors=exc.errors or None
        )
    elif isinstance(exc, Http404):
        body = problem_body(404, detail="Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        body = problem_body(403, detail="You do not have permission to perform this action.")
    elif isinstance(exc, IntegrityError):
        # The SQL and the values stay in the log; the client learns which rule it ran into.
        logger.warning("Integrity error answered with 409: %s", exc)
        conflict = database_conflict(exc)
        body = problem_body(409, detail=conflict.detail, code="conflict", errors=conflict.errors)
    elif isinstance(exc, drf_exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        body = problem_body(exc.status_code, detail=detail)
    else:
        # Anything else, a lost database (DATABASE_LOST) included, goes on to Django's handling: the
        # middleware retries a read on a new connection, or answers 503.
        return None
    set_rollback()
    response = Response(body, status=body["status"], headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response
