"""Pagination of the API's lists."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination
from rest_framework.request import Request


class StrictPageSizeMixin:
    """`?page_size=` must be a whole number: text that is not one is a 400 naming the parameter,
    rather than DRF's silent fall back to the default size. Whole numbers keep DRF's meaning: 0 or
    less gives the default size, more than the maximum gives the maximum."""

    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int | None:
        values = request.query_params.getlist(self.page_size_query_param)
        if len(values) > 1:
            raise ValidationError({self.page_size_query_param: ["Give the page size once."]})
        if values:
            try:
                int(values[0])
            except ValueError:
                raise ValidationError(
                    {self.page_size_query_param: ["A valid integer is required."]}
                ) from None
        return super().get_page_size(request)  # type: ignore[misc]


class PagePagination(StrictPageSizeMixin, PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


class IdCursorPagination(StrictPageSizeMixin, CursorPagination):
    """Cursor pagination, newest first, for the lists that grow without bound (shares, events, accounts).

    A cursor costs one indexed range query however deep the page, and has no total count. A forged
    cursor is refused with 404, as an undecodable one is: its position goes into the page's WHERE
    clause, and one that is not a value of the ordering column (`p=abc` for the id) would otherwise
    fail in the query as a 500.
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
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
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        column = self.model._meta.get_field(ordering.lstrip("-"))
        assert isinstance(column, Field), "cursor lists order by a column of their own"
        try:
            column.to_python(cursor.position)
        except DjangoValidationError as exc:
            raise NotFound(self.invalid_cursor_message) from exc
        return cursor
