"""Query parameters shared by the API's lists: ids, instants, strict filters and a strict, stable ordering."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView

ID_MAX = 2**63 - 1  # the largest id a BigAutoField holds


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX})
class IdFilter(django_filters.Filter):
    """An object's id: a whole number in the range of ids, so nothing out of range reaches the database."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, in UTC: PostgreSQL refuses offsets beyond ±15:59 and years beyond 1 to 9999."""

    def to_python(self, value: Any) -> datetime | None:
        if value == "":
            # Present but empty is not an instant (the OpenAPI description says date-time); absent is
            # no filter.
            raise DjangoValidationError("Enter a valid date/time.")
        instant: datetime | None = super().to_python(value)
        if instant is None:
            return None
        try:
            return instant.astimezone(UTC)
        except OverflowError:
            raise DjangoValidationError("Enter a date/time between the years 1 and 9999 in UTC.") from None


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend, refusing with 400 what it would quietly read as "no filter": a filter
    given empty (`?kind=`), a single-valued filter given twice, and a true/false filter given anything
    but `true` or `false` (`?is_active=null`)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        errors: dict[str, list[str]] = {}
        for name, declared in filterset.filters.items():
            values = request.query_params.getlist(name)
            if not values:
                continue
            if isinstance(declared, django_filters.MultipleChoiceFilter):
                single = False
            else:
                single = not isinstance(declared, django_filters.filters.BaseCSVFilter)
            if single and len(values) > 1:
                errors[name] = ["Give this filter once."]
            elif any(value == "" for value in values):
                errors[name] = ["This filter cannot be empty; leave it out to not filter."]
            elif isinstance(declared, django_filters.BooleanFilter) and values[0] not in ("true", "false"):
                errors[name] = ["Must be true or false."]
        if errors:
            raise ValidationError(errors)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        return filterset.qs


class StrictOrderingFilter(OrderingFilter):
    """`?ordering=a,-b`: refuses unknown fields with 400 instead of ignoring them, and breaks ties by id.

    A view names its fields in `ordering_fields` and its default in `ordering`.
    """

    ordering_description = "Comma-separated fields to sort by; `-` in front sorts descending."

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Sequence[str] | None:
        param = request.query_params.get(self.ordering_param)
        if param is None:
            return self.get_default_ordering(view)
        terms = [term.strip() for term in param.split(",") if term.strip()]
        valid = self.remove_invalid_fields(queryset, terms, view, request)
        invalid = [term for term in terms if term not in valid]
        if invalid:
            allowed = ", ".join(self._allowed_values(view))
            raise ValidationError(
                {self.ordering_param: [f"Unknown ordering: {', '.join(invalid)}. Use one of: {allowed}."]}
            )
        return terms or self.get_default_ordering(view)

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        ordering = list(self.get_ordering(request, queryset, view) or [])
        if not ordering:
            return queryset
        if not any(term.lstrip("-") in ("id", "pk") for term in ordering):
            # Pages of rows with equal values must not overlap.
            ordering.append("-id")
        # Empty values last going up and first going down, on every database (PostgreSQL's own order;
        # SQLite, the quick start's, would put them first going up).
        return queryset.order_by(
            *(
                F(term[1:]).desc(nulls_first=True) if term.startswith("-") else F(term).asc(nulls_last=True)
                for term in ordering
            )
        )

    @staticmethod
    def _fields(view: APIView) -> list[str]:
        return list(getattr(view, "ordering_fields", []))

    def _allowed_values(self, view: APIView) -> list[str]:
        return [value for field in self._fields(view) for value in (field, f"-{field}")]

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        default = ",".join(getattr(view, "ordering", None) or [])
        description = str(self.ordering_description)
        if default:
            description += f" Default: `{default}`."
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": description,
                "style": "form",
                "explode": False,
                "schema": {"type": "array", "items": {"type": "string", "enum": self._allowed_values(view)}},
            }
        ]
