"""Pagination of the API's lists."""

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class PagePagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


def paginated_response(
    view: APIView,
    request: Request,
    queryset: Any,
    serializer: Callable[..., Any],
    *,
    context: Mapping[str, Any] | None = None,
) -> Response:
    """One page of a list as `{"count", "next", "previous", "results"}`."""
    paginator = PagePagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True, context=dict(context or {})).data)


class IdCursorPagination(CursorPagination):
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
