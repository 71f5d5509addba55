"""Query parameters of the accounts API's lists: filters, search, a stable ordering and checked cursors."""

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters  # type: ignore[import-untyped]
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import NotFound
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import Cursor
from rest_framework.request import Request

from portal.pagination import IdCursorPagination

from .models import AccountKind, OfficialAccount, VerificationStatus
from .selectors import official_account_search

ID_MAX = 2**63 - 1  # the largest id a BigAutoField holds


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX})
class IdFilter(filters.Filter):
    """An object's id: a whole number in the range of ids, so nothing out of range reaches the database."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


class StableOrderingFilter(OrderingFilter):
    """`?ordering=`, with the id appended so rows that tie keep one order from page to page.

    A cursor then names one place in the list; without the id, PostgreSQL may return tied rows in a
    different order on each query, and a page could repeat or skip them.
    """

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> Sequence[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        ordering = list(ordering)
        if not any(term.lstrip("-") in ("id", "pk") for term in ordering):
            ordering.append("-id" if ordering[0].startswith("-") else "id")
        return ordering

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        fields = ", ".join(f"`{name}`" for name in getattr(view, "ordering_fields", None) or [])
        default = ",".join(getattr(view, "ordering", None) or [])
        for parameter in parameters:
            parameter["description"] = (
                f"Sort by {fields}; a leading `-` sorts descending (default `{default}`). "
                "Unknown fields are ignored."
            )
        return parameters


class CheckedCursorPagination(IdCursorPagination):
    """IdCursorPagination that refuses a forged cursor with 404, as it does an undecodable one.

    The cursor's position goes into the page's WHERE clause; one that is not a value of the ordering
    column (`p=abc` for the id) would otherwise fail in the query as a 500.
    """

    model: type[Model] | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None or self.model is None:
            return cursor
        column = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        assert isinstance(column, Field), "cursor lists order by a column of their own"
        try:
            column.to_python(cursor.position)
        except DjangoValidationError as exc:
            raise NotFound(self.invalid_cursor_message) from exc
        return cursor


class OfficialAccountFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="filter_search",
        help_text=_("Part of the screen name (any case), or the exact platform uid."),
    )
    verification_status = filters.ChoiceFilter(choices=VerificationStatus.choices)
    vertical = filters.CharFilter(
        field_name="vertical__code", help_text=_("A vertical code, e.g. `commerce`.")
    )
    kind = filters.ChoiceFilter(choices=AccountKind.choices)
    organization = IdFilter(field_name="organization_id", help_text=_("An organization's id."))

    class Meta:
        model = OfficialAccount
        fields = ["search", "verification_status", "vertical", "kind", "organization"]

    def filter_search(
        self, queryset: QuerySet[OfficialAccount], name: str, value: str
    ) -> QuerySet[OfficialAccount]:
        return queryset.filter(official_account_search(value))
