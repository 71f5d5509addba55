"""The admin's list pages at full size: the project's changelists against Django's stock ones.

    DJANGO_SETTINGS_MODULE=benchmarks.settings DJANGO_SECRET_KEY=x \\
        DJANGO_ALLOWED_HOSTS=127.0.0.1,testserver \\
        DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_scale_admin \\
        REDIS_URL=redis://127.0.0.1:6379/10 .venv/bin/python benchmarks/admin_pages.py [--repeats 5]

Run it against a database filled by `manage.py seed_scale` (1.67 million official accounts). In
process, with `django.test.Client` logged in as a superuser (one is created when there is none), it
loads the first page of each list once to warm up and then --repeats times, and reports the median:
the project's `/admin/...` changelist against the stock `/bench/stock-admin/...` one of the same model
(benchmarks/urls.py), which counts every row of the table, twice when unfiltered.

The project's unfiltered lists show PostgreSQL's estimate of the row count ("about 1,670,000");
filtered lists count exactly, as the stock ones do.
"""

import argparse
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.test import Client

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

SETTINGS_MODULE = "benchmarks.settings"
BENCH_USERNAME = "admin_pages_bench"


@dataclass(frozen=True, slots=True)
class AdminPage:
    name: str
    model: str
    project_url: str
    stock_url: str


PAGES = (
    AdminPage(
        "accounts, unfiltered",
        "accounts.OfficialAccount",
        "/admin/accounts/officialaccount/",
        "/bench/stock-admin/accounts/officialaccount/",
    ),
    AdminPage(
        "accounts, kind = government",
        "accounts.OfficialAccount",
        "/admin/accounts/officialaccount/?kind__exact=government",
        "/bench/stock-admin/accounts/officialaccount/?kind__exact=government",
    ),
    AdminPage(
        "applications, unfiltered",
        "whitelist.WhitelistApplication",
        "/admin/whitelist/whitelistapplication/",
        "/bench/stock-admin/whitelist/whitelistapplication/",
    ),
    AdminPage(
        "applications, state = approved",
        "whitelist.WhitelistApplication",
        "/admin/whitelist/whitelistapplication/?state__exact=approved",
        "/bench/stock-admin/whitelist/whitelistapplication/?state__exact=approved",
    ),
)

PAGINATOR = re.compile(r'<p class="paginator">(.*?)</p>', re.DOTALL)


@dataclass(frozen=True, slots=True)
class AdminPageResult:
    page: str
    project_ms: float
    stock_ms: float
    count: int
    estimated: bool
    project_sql_ms: float = 0.0  # of project_ms, the time spent in SQL
    stock_sql_ms: float = 0.0

    @property
    def ratio(self) -> float:
        return self.project_ms / self.stock_ms


def shown_count(html: str, model: str) -> tuple[int, bool]:
    """The row count a changelist shows under its rows, and whether it is worded as an estimate.

    The count reads "about 1,670,000 official accounts" when estimated, "170000 official accounts" when not.
    """
    from django.apps import apps

    options = apps.get_model(model)._meta
    names = "|".join(re.escape(str(name)) for name in (options.verbose_name_plural, options.verbose_name))
    paginator = PAGINATOR.search(html)
    match = re.search(rf"(about )?([\d,]+) (?:{names})\b", paginator.group(1)) if paginator else None
    if match is None:
        raise ValueError(f"The {model} changelist shows no row count under its rows.")
    return int(match.group(2).replace(",", "")), bool(match.group(1))


def _load(client: "Client", url: str) -> tuple[float, float, str]:
    """(ms for the whole page, ms of it in SQL, the page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}, not 200.")
    sql_ms = sum(float(query["time"]) for query in queries.captured_queries) * 1000
    return elapsed_ms, sql_ms, response.content.decode()


def _median_ms(client: "Client", url: str, *, repeats: int) -> tuple[float, float, str]:
    """Medians of the page's and its SQL's time over `repeats` loads after a warm-up load."""
    _load(client, url)  # warm-up: templates, connections, caches of PostgreSQL
    timings, sql_timings = [], []
    html = ""
    for _ in range(repeats):
        elapsed_ms, sql_ms, html = _load(client, url)
        timings.append(elapsed_ms)
        sql_timings.append(sql_ms)
    return statistics.median(timings), statistics.median(sql_timings), html


def _staff_client() -> "Client":
    from django.test import Client

    from accounts.models import User

    superuser = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if superuser is None:
        superuser = User.objects.create_superuser(BENCH_USERNAME, email="", password=None)
    client = Client()
    client.force_login(superuser)
    return client


def measure_admin_pages(*, repeats: int = 5) -> list[AdminPageResult]:
    """Time the first page of each list, the project's changelist against the stock one (Django set up)."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1.")
    client = _staff_client()
    results = []
    for page in PAGES:
        project_ms, project_sql_ms, html = _median_ms(client, page.project_url, repeats=repeats)
        stock_ms, stock_sql_ms, _html = _median_ms(client, page.stock_url, repeats=repeats)
        count, estimated = shown_count(html, page.model)
        results.append(
            AdminPageResult(page.name, project_ms, stock_ms, count, estimated, project_sql_ms, stock_sql_ms)
        )
    return results


def table(results: list[AdminPageResult]) -> str:
    header = ("page", "project ms", "stock ms", "project / stock", "count shown")
    lines = [
        (
            result.page,
            f"{result.project_ms:,.1f}",
            f"{result.stock_ms:,.1f}",
            f"{result.ratio:.3f}",
            f"{'about ' if result.estimated else ''}{result.count:,}",
        )
        for result in results
    ]
    from benchmarks.tables import text_table

    return text_table(header, lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed loads of each page (default 5)")
    arguments = parser.parse_args(argv)
    if os.environ.get("DJANGO_SETTINGS_MODULE") != SETTINGS_MODULE:
        raise SystemExit(f"Set DJANGO_SETTINGS_MODULE={SETTINGS_MODULE} (see the module's docstring).")

    import django

    django.setup()
    from django.db import connection

    from accounts.models import OfficialAccount

    if connection.vendor != "postgresql":
        raise SystemExit("DATABASE_URL must name the PostgreSQL database that `manage.py seed_scale` filled.")
    results = measure_admin_pages(repeats=arguments.repeats)
    accounts = OfficialAccount.objects.order_by().count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone() or ("?",)
    print(
        f"First page of the admin's lists, median of {arguments.repeats} loads after one warm-up; "
        f"{accounts:,} official accounts; PostgreSQL {server_version}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print()
    print(table(results))
    print()
    print("stock: Django's plain ModelAdmin of the same model (benchmarks/urls.py), counting every row.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
