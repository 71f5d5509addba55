"""Admin changelists over tables of millions of rows: PostgreSQL's row estimate instead of COUNT(*)."""

from functools import cached_property
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest


def is_whole_table(queryset: QuerySet[Any]) -> bool:
    """True when the queryset has one row per row of its model's table: nothing filters or groups it."""
    query = queryset.query
    return (
        not query.where
        and not query.distinct
        and query.group_by is None
        and not query.combinator
        and query.low_mark == 0
        and query.high_mark is None
    )


def table_row_estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's planner estimate of the rows in the queryset's table.

    None when the database is not PostgreSQL or the table was never vacuumed nor analyzed
    (reltuples is -1). Like the planner, it scales the density seen by the last ANALYZE
    (reltuples / relpages) to the table's current size, so rows added since still count.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int"
            " FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    reltuples, relpages, pages = row
    if reltuples < 0:
        return None
    if relpages > 0:
        return round(reltuples / relpages * pages)
    return round(reltuples)


def round_estimate(rows: int) -> int:
    """Three significant figures: an estimate shown to the last row would claim a precision it lacks."""
    drop = max(len(str(rows)) - 3, 0)
    return round(rows, -drop)


class EstimatedCountPaginator(Paginator):
    """Counts an unfiltered changelist with PostgreSQL's estimate, a filtered one exactly.

    Small tables (under `exact_count_below` rows by the estimate), tables never analyzed and other
    databases (the quick start's SQLite) are counted exactly. `count_is_estimated` says which.
    """

    exact_count_below = 10_000

    @cached_property
    def _count_and_estimated(self) -> tuple[int, bool]:
        if isinstance(self.object_list, QuerySet) and is_whole_table(self.object_list):
            estimate = table_row_estimate(self.object_list)
            if estimate is not None and estimate >= self.exact_count_below:
                return round_estimate(estimate), True
        return super().count, False

    @cached_property
    def count(self) -> int:
        return self._count_and_estimated[0]

    @property
    def count_is_estimated(self) -> bool:
        return self._count_and_estimated[1]


class EstimatedCountChangeList(ChangeList):
    """Django's changelist, quiet about result counts where the paginator only estimates."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if self.paginator.count_is_estimated:
            # Nothing narrows the list, so the search bar's "N results (Show all)" has nothing to say.
            self.full_result_count = self.result_count


class LargeTableAdmin(admin.ModelAdmin):
    """A changelist for a table of millions of rows: no COUNT(*) over the whole table on any load.

    The unfiltered list shows PostgreSQL's estimate ("about 1,670,000 official accounts", worded by
    templates/admin/pagination.html and actions.html); a filtered or searched one counts its rows
    exactly, and the total of the whole table (show_full_result_count) is never counted.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Drawing the rows is most of a first page's time once nothing is counted: 50, not Django's 100.
    list_per_page = 50

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return EstimatedCountChangeList
