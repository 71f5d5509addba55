"""Pagination of the API's lists."""

from collections.abc import Callable, Mapping
from typing import Any

from rest_framework.pagination import CursorPagination, PageNumberPagination
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

    A cursor costs one indexed range query however deep the page, and has no total count.
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
