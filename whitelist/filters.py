"""Query filters and ordering of the whitelist API's lists."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import django_filters  # type: ignore[import-untyped]
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django_filters.fields import IsoDateTimeField  # type: ignore[import-untyped]
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.views import APIView

from .models import ApplicationState, EntryState, WhitelistApplication, WhitelistEntry

# The largest value of a bigint primary key; a bigger id is refused rather than sent to the database.
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """The id of a related row, as a whole number (django-filter's NumberFilter takes decimals)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, in UTC: PostgreSQL refuses offsets beyond ±15:59 and years beyond 1 to 9999."""

    def to_python(self, value: Any) -> datetime | None:
        instant: datetime | None = super().to_python(value)
        if instant is None:
            return None
        try:
            return instant.astimezone(UTC)
        except OverflowError:
            raise DjangoValidationError("Enter a date/time between the years 1 and 9999 in UTC.") from None


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class ApplicationFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=ApplicationState.choices, help_text="Only this state.")
    account = IdFilter(field_name="account_id", help_text="Only this official account's applications.")
    organization = IdFilter(field_name="organization_id", help_text="Only this organization's applications.")
    submitted_after = InstantFilter(
        field_name="submitted_at", lookup_expr="gte", help_text="Last submitted at or after (ISO 8601)."
    )
    submitted_before = InstantFilter(
        field_name="submitted_at", lookup_expr="lt", help_text="Last submitted before (ISO 8601)."
    )
    search = django_filters.CharFilter(
        method="search_account",
        help_text="Part of the account's screen name or platform uid, any case.",
    )

    class Meta:
        model = WhitelistApplication
        fields: list[str] = []

    def search_account(
        self, queryset: QuerySet[WhitelistApplication], name: str, value: str
    ) -> QuerySet[WhitelistApplication]:
        return queryset.filter(
            Q(account__screen_name__icontains=value) | Q(account__platform_uid__icontains=value)
        )


class EntryFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=EntryState.choices, help_text="Only this state.")
    account = IdFilter(field_name="account_id", help_text="Only this official account's entry.")
    valid_until_after = InstantFilter(
        field_name="valid_until", lookup_expr="gte", help_text="Valid until at or after (ISO 8601)."
    )
    valid_until_before = InstantFilter(
        field_name="valid_until", lookup_expr="lt", help_text="Valid until before (ISO 8601)."
    )

    class Meta:
        model = WhitelistEntry
        fields: list[str] = []


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
        return queryset.order_by(*ordering)

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
