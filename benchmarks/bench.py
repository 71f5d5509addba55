"""`make bench`: the portal at the programme's scale, every figure beside a reference from the same run.

    .venv/bin/python benchmarks/bench.py [--accounts 1670000] [--rows 1,2,...] [--keep | --reuse]

Absolute times on a shared machine are noise, so each row gives the project's figure, a reference
measured in the same run, and their ratio, against the target of issue #6:

1. share quota exactness: 64 concurrent attempts (4 processes x 16 threads, released together by one
   barrier) on each of 200 fresh accounts, for the database and the Redis backend, against DRF's
   ScopedRateThrottle on the same Redis;
2. share decisions per second, allowed and refused, for both backends, against a bare Redis INCR loop;
3. HTTP under gunicorn (a worker per core, wrk in another process): the cached profile and a refused
   share against a trivial DRF endpoint (benchmarks/http_load.py);
4. the hourly reset over every quota row with 1% and 10% of the accounts having shared, against a
   naive per-row ORM loop (timed on a sample, scaled);
5. the admin's first list page against Django's stock changelist (benchmarks/admin_pages.py);
6. criteria evaluation over every application, and the policy preview over every entry, against
   the per-application path (timed on a sample, scaled);
7. queries per request of every API list and detail endpoint (tests/portal/test_query_counts.py).
8. a bounded load test (issue #7): mixed reads and share attempts at a steady rate against gunicorn,
   with no 5xx and no over-grant (benchmarks/load_test.py).

The run needs a local PostgreSQL server (BENCH_DATABASE_URL names it; the script creates the scratch
database portal_bench there, seeds it with `manage.py seed_scale` and drops it at the end unless
--keep) and Redis (REDIS_URL; database --redis-db, 12 by default, is flushed of the bench's keys).
It prints the table and writes it into docs/benchmarks.md between the bench markers, with the date,
the machine and the commit. The exit status is 1 when a measurement failed; a missed target is
shown in the table (and gives status 1 only with --strict).
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from benchmarks.processes import manage, run  # noqa: E402 - after the path is set
from benchmarks.throttle_comparison import (  # noqa: E402 - after the path is set
    PostgresServer,
    drf_attempt,
    drf_share_throttle,
    fresh_accounts,
    redis_url_on_database,
)

SETTINGS_MODULE = "benchmarks.settings"
SCRATCH_DATABASE = "portal_bench"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
REPORT_PATH = PROJECT_DIR / "docs" / "benchmarks.md"
MARK_START = "<!-- bench:start -->"
MARK_END = "<!-- bench:end -->"
PROGRAMME_ACCOUNTS = 1_670_000
# The seed: 10% of the accounts whitelisted and all of those shared in the last hour, so the reset
# can be measured with 1% and with 10% of the accounts having shared.
SEED_ARGUMENTS = ["--whitelisted-fraction", "0.1", "--shared-fraction", "0.1", "--seed", "1670"]
ALL_ROWS = (1, 2, 3, 4, 5, 6, 7, 8)


# ---------------------------------------------------------------------------------------------
# Figures and the table


@dataclass(slots=True)
class Figure:
    """One row of the table: the project's figure beside its reference."""

    row: int
    measure: str
    project: str
    reference: str
    ratio: str
    target: str = ""
    met: bool | None = None  # None: the row has no target

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "**no**", None: ""}[self.met]


@dataclass(slots=True)
class Run:
    """What the whole run found, for the report."""

    started: datetime
    machine: str
    commit: str
    data: str
    figures: list[Figure] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # extra Markdown, e.g. the per-endpoint queries
    failures: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def ratio(value: float, reference: float) -> str:
    if reference == 0:
        return "n/a" if value == 0 else "inf"
    return f"{value / reference:,.2f}"


def markdown_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]

    def render(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([render(header), rule, *(render(row) for row in rows)])


def figures_table(figures: list[Figure]) -> str:
    header = ("#", "measure", "project", "reference", "ratio", "target", "met")
    rows = [(str(f.row), f.measure, f.project, f.reference, f.ratio, f.target, f.verdict) for f in figures]
    return markdown_table(header, rows)


def report(run: Run) -> str:
    missed = [figure for figure in run.figures if figure.met is False]
    lines = [
        f"Run of {run.started:%Y-%m-%d %H:%M} UTC, commit `{run.commit}`, {run.elapsed / 60:.1f} min.",
        "",
        f"- Machine: {run.machine}",
        f"- Data: {run.data}",
        "",
        figures_table(run.figures),
        "",
    ]
    if missed:
        lines.append(f"Targets missed: {', '.join(f'row {f.row} ({f.measure})' for f in missed)}.")
    elif not run.failures:
        lines.append("Every target was met.")
    for failure in run.failures:
        lines.append(f"\nFAILED: {failure}")
    for section in run.sections:
        lines.extend(["", section])
    return "\n".join(lines).rstrip() + "\n"


def write_report(text: str, path: Path = REPORT_PATH) -> None:
    """Put the run between the markers of docs/benchmarks.md; what is outside them stays as written."""
    block = f"{MARK_START}\n{text}{MARK_END}"
    if path.exists():
        current = path.read_text(encoding="utf-8")
        start, end = current.find(MARK_START), current.find(MARK_END)
        if start != -1 and end > start:
            path.write_text(current[:start] + block + current[end + len(MARK_END) :], encoding="utf-8")
            return
        path.write_text(current.rstrip() + "\n\n" + block + "\n", encoding="utf-8")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# Benchmarks\n\n{block}\n", encoding="utf-8")


def timed_rate(operation: Callable[[], Any], *, seconds: float, minimum: int = 50) -> tuple[float, int]:
    """Operations per second of `operation` called in a loop for about `seconds` (at least `minimum`)."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        operation()
        count += 1
        if count >= minimum and time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - start), count


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The machine, the commit, the services


def describe_machine(postgres_version: str, redis_version: str) -> str:
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB memory, "
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip() + ", "
                break
    return (
        f"{os.cpu_count()} cores, {memory}{model}{platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, {postgres_version}, Redis {redis_version}"
    )


def describe_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" with uncommitted changes" if dirty else "")


def bench_environment(*, database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of every process of the run: benchmark settings on the scratch database.

    The throttles count every request as in production, at rates that never refuse (benchmarks/http_load.py).
    """
    from benchmarks.http_load import UNLIMITED_RATE
    from benchmarks.http_load import bench_environment as http_environment

    return {
        **os.environ,
        **http_environment(database_url, redis_url),
        "WHITELIST_LOOKUP_RATE": UNLIMITED_RATE,  # the load test's lookups come from one address
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",  # testserver: the admin's test client
        "CACHE_KEY_PREFIX": "bench",
        "PYTHONUNBUFFERED": "1",
    }


def seeded_accounts(server: PostgresServer) -> int | None:
    """How many seeded accounts the scratch database holds, None when it does not exist or is empty."""
    import psycopg

    try:
        with server._connect(server.scratch) as connection:
            row = connection.execute(
                "SELECT count(*) FROM accounts_officialaccount WHERE platform_uid LIKE 'scale-%%'"
            ).fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row and row[0] else None


# ---------------------------------------------------------------------------------------------
# Row 1: share quota exactness under concurrency from several processes

EXACTNESS_ACCOUNTS = 200
EXACTNESS_PROCESSES = 4
EXACTNESS_THREADS = 16  # per process: 64 attempts on each account


def _exactness_attempt(backend: str, redis_url: str, run: str) -> Callable[[int], bool]:
    """One attempt at the limit of 1 per hour, for `backend`, made fresh in each process."""
    from django.db import transaction

    from miniprograms.quota import DatabaseQuota, RedisQuota, window_start

    window = window_start()
    if backend == "database":

        def on_database(account: int) -> bool:
            with transaction.atomic():
                return DatabaseQuota().consume(account_id=account, limit=1, window=window).granted

        return on_database
    import redis

    if backend == "redis":
        quota = RedisQuota(redis.Redis.from_url(redis_url, socket_timeout=10))
        return lambda account: quota.consume(account_id=account, limit=1, window=window).granted
    from django.core.cache.backends.redis import RedisCache

    throttle = drf_share_throttle(RedisCache(redis_url, {"KEY_PREFIX": f"bench-drf:{run}", "TIMEOUT": 3600}))
    return lambda account: drf_attempt(throttle, f"account-{account}")()


def _exactness_process(
    backend: str,
    accounts: list[int],
    barrier: Any,
    results: Any,
    redis_url: str,
    run: str,
    timeout: float,
) -> None:
    """A forked process: EXACTNESS_THREADS threads, each one attempt per account, per barrier round."""
    from django.db import connection

    attempt = _exactness_attempt(backend, redis_url, run)
    grants: Counter[int] = Counter()
    errors: list[str] = []
    lock = threading.Lock()

    def thread_main() -> None:
        try:
            if backend == "database":
                connection.ensure_connection()  # before the first round, so connecting spreads nothing
            for account in accounts:
                barrier.wait(timeout)
                granted = attempt(account)
                with lock:
                    grants[account] += int(granted)
        except Exception as exc:
            with lock:
                errors.append(repr(exc))
            with contextlib.suppress(Exception):
                barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=thread_main, daemon=True) for _ in range(EXACTNESS_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((dict(grants), errors[:5]))


def exactness(backend: str, accounts: list[int], *, redis_url: str, timeout: float = 60) -> tuple[int, int]:
    """(over-grants, accounts with none) of `backend` over `accounts`, 64 attempts each."""
    from django.db import connections

    connections.close_all()  # a forked child must not share the parent's connection
    context = multiprocessing.get_context("fork")
    parties = EXACTNESS_PROCESSES * EXACTNESS_THREADS
    barrier = context.Barrier(parties)
    results = context.Queue()
    run = secrets.token_hex(4)
    processes = [
        context.Process(
            target=_exactness_process,
            args=(backend, accounts, barrier, results, redis_url, run, timeout),
            daemon=True,
        )
        for _ in range(EXACTNESS_PROCESSES)
    ]
    for process in processes:
        process.start()
    grants: Counter[int] = Counter()
    errors: list[str] = []
    deadline = time.monotonic() + timeout * (len(accounts) + 1)
    for _ in processes:
        process_grants, process_errors = results.get(timeout=max(1.0, deadline - time.monotonic()))
        grants.update(process_grants)
        errors.extend(process_errors)
    for process in processes:
        process.join(timeout=10)
    if errors:
        raise RuntimeError(f"{backend}: {len(errors)} attempts failed, e.g. {errors[0]}")
    over = sum(max(0, grants[account] - 1) for account in accounts)
    none = sum(grants[account] == 0 for account in accounts)
    return over, none


def row_exactness(context: "Context") -> list[Figure]:
    accounts = fresh_accounts(EXACTNESS_ACCOUNTS, f"exactness-{secrets.token_hex(4)}")
    attempts = EXACTNESS_PROCESSES * EXACTNESS_THREADS
    found: dict[str, tuple[int, int]] = {}
    for backend in ("database", "redis", "drf"):
        progress(f"  row 1: {backend}, {len(accounts)} accounts x {attempts} attempts ...")
        found[backend] = exactness(backend, accounts, redis_url=context.redis_url)
        context.flush_redis()
    drf_over = found["drf"][0]
    figures = []
    for backend, label in (("database", "database backend"), ("redis", "Redis backend")):
        over, none = found[backend]
        figures.append(
            Figure(
                row=1,
                measure=(
                    f"Share quota over-grants, {label} ({len(accounts)} accounts x {attempts} "
                    f"concurrent attempts, {EXACTNESS_PROCESSES} processes)"
                ),
                project=f"{over:,} over-grants" + (f", {none} accounts with no grant" if none else ""),
                reference=f"DRF ScopedRateThrottle on Redis: {drf_over:,} over-grants",
                ratio=ratio(over, drf_over),
                target="0 over-grants",
                met=over == 0 and none == 0,
            )
        )
    return figures


# ---------------------------------------------------------------------------------------------
# Row 2: share decisions per second


def row_decisions(context: "Context") -> list[Figure]:
    import redis
    from django.db import transaction

    from miniprograms.models import ShareQuota
    from miniprograms.quota import DatabaseQuota, RedisQuota, window_start

    seconds = context.seconds
    window = window_start()
    client = redis.Redis.from_url(context.redis_url, socket_timeout=10)
    quota = RedisQuota(client)

    progress("  row 2: bare INCR, Redis allowed/refused ...")
    incr_key = f"bench:incr:{secrets.token_hex(4)}"
    incr_rate, _ = timed_rate(lambda: client.incr(incr_key), seconds=seconds)
    # Allowed: every decision on an account with nothing used yet (ids far above the real ones).
    fresh = iter(range(10**12, 10**13))
    granted = Counter[bool]()

    def redis_allowed() -> None:
        granted[quota.consume(account_id=next(fresh), limit=1, window=window).granted] += 1

    redis_allowed_rate, _ = timed_rate(redis_allowed, seconds=seconds)
    full = 10**13 + 1
    quota.consume(account_id=full, limit=1, window=window)
    refused = Counter[bool]()

    def redis_refused() -> None:
        refused[quota.consume(account_id=full, limit=1, window=window).granted] += 1

    redis_refused_rate, _ = timed_rate(redis_refused, seconds=seconds)
    context.flush_redis()

    progress("  row 2: database allowed/refused ...")
    # Allowed on the database: seeded accounts whose quota row is idle from an earlier hour.
    idle = iter(
        list(
            ShareQuota.objects.filter(window_start__lt=window, used=0)
            .order_by("account_id")
            .values_list("account_id", flat=True)[:200_000]
        )
    )

    def database_allowed() -> None:
        with transaction.atomic():
            granted[DatabaseQuota().consume(account_id=next(idle), limit=1, window=window).granted] += 1

    database_allowed_rate, _ = timed_rate(database_allowed, seconds=seconds)
    [spent] = fresh_accounts(1, f"decisions-{secrets.token_hex(4)}")
    with transaction.atomic():
        DatabaseQuota().consume(account_id=spent, limit=1, window=window)

    def database_refused() -> None:
        with transaction.atomic():
            refused[DatabaseQuota().consume(account_id=spent, limit=1, window=window).granted] += 1

    database_refused_rate, _ = timed_rate(database_refused, seconds=seconds)
    client.close()
    if granted[False] or refused[True]:
        raise RuntimeError(
            f"decisions went the wrong way: {granted[False]} refusals on the allowed path, "
            f"{refused[True]} grants on the refused path"
        )
    reference = f"bare Redis INCR: {incr_rate:,.0f}/s"
    rows = [
        ("Redis backend, refused", redis_refused_rate, "≥ 0.5 of INCR"),
        ("Redis backend, allowed", redis_allowed_rate, ""),
        ("database backend, refused", database_refused_rate, ""),
        ("database backend, allowed", database_allowed_rate, ""),
    ]
    return [
        Figure(
            row=2,
            measure=f"Share decisions per second, {label} (one client, in-process)",
            project=f"{rate:,.0f}/s",
            reference=reference,
            ratio=ratio(rate, incr_rate),
            target=target,
            met=(rate / incr_rate >= 0.5) if target else None,
        )
        for label, rate, target in rows
    ]


# ---------------------------------------------------------------------------------------------
# Row 3: HTTP under gunicorn


def row_http(context: "Context") -> list[Figure]:
    from django.db import connections

    from benchmarks import http_load

    progress("  row 3: gunicorn and wrk ...")
    # gunicorn's start, then for each target its warm-up and rounds: no hour may end within them.
    targets = http_load.prepare_targets(valid_for=60 + 3 * (2 + context.http_seconds + 10))
    connections.close_all()  # the server's workers have the database to themselves
    results = http_load.measure_http(context.env, targets, duration=context.http_seconds)
    by_name = {result.name: result for result in results}

    def cpu(result: "http_load.HttpResult") -> str:
        value = result.server_cpu_ms_per_request
        return "server CPU n/a" if value is None else f"{value:.2f} ms server CPU a request"

    trivial = by_name["trivial"]
    figures = []
    for name, label, target in (
        ("profile", "profile endpoint (cached)", 0.8),
        ("share", "share endpoint (refused, 429)", None),
    ):
        result = by_name[name]
        value = result.requests_per_second / trivial.requests_per_second
        problems = "; ".join(result.problems + trivial.problems)
        figures.append(
            Figure(
                row=3,
                measure=f"HTTP requests per second, {label}; p50 / p99 latency",
                project=(
                    f"{result.requests_per_second:,.0f}/s; "
                    f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; {cpu(result)}"
                ),
                reference=(
                    f"trivial DRF endpoint: {trivial.requests_per_second:,.0f}/s; "
                    f"p50 {trivial.p50_ms:.1f} ms, p99 {trivial.p99_ms:.1f} ms; {cpu(trivial)}"
                ),
                ratio=f"{value:.2f}",
                target=f"≥ {target} of trivial" if target else "",
                met=(value >= target and not problems) if target else (None if not problems else False),
            )
        )
        if problems:
            context.run.failures.append(f"row 3 {name}: {problems}")
    return figures


# ---------------------------------------------------------------------------------------------
# Row 4: the hourly reset


NAIVE_RESET_SAMPLE = 20_000


def _vacuum(*tables: str) -> None:
    """What autovacuum would have done by then (it is off on some servers): no dead rows, fresh statistics."""
    from django.db import connection

    # VACUUM cannot run in a transaction (the tests' own): ANALYZE alone there.
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{command} {connection.ops.quote_name(table)}")


def _reset_scenario(sharing: int, window: datetime) -> None:
    """Make exactly `sharing` accounts have shared in the last closed hour, and the rest earlier."""
    from django.db import connection, transaction

    from miniprograms.models import QuotaResetRun, Share, ShareQuota, ShareWindowUsage

    quota_table = connection.ops.quote_name(ShareQuota._meta.db_table)
    share_table = connection.ops.quote_name(Share._meta.db_table)
    last, earlier = window - timedelta(hours=1), window - timedelta(hours=2)
    with transaction.atomic(), connection.cursor() as cursor:
        ShareWindowUsage.objects.all().delete()
        QuotaResetRun.objects.all().delete()
        # The quotas a previous scenario (or the seed) left used: idle since two hours ago.
        cursor.execute(
            f"UPDATE {quota_table} SET used = 0, window_start = %s "  # noqa: S608 - table names only
            "WHERE used > 0 OR window_start >= %s",
            [earlier, earlier],
        )
        # Every share three hours further back (recorded already; a uniform shift keeps each account's
        # windows and slots apart), then one share of each sampled account into the last hour.
        cursor.execute(
            f"UPDATE {share_table} SET window_start = window_start - interval '3 hours'"  # noqa: S608
        )
        cursor.execute(
            f"UPDATE {share_table} SET window_start = %s WHERE id IN ("  # noqa: S608
            f"SELECT MIN(id) FROM {share_table} GROUP BY account_id ORDER BY account_id LIMIT %s)",
            [last, sharing],
        )
        cursor.execute(
            f"UPDATE {quota_table} AS q SET used = s.n, window_start = %s "  # noqa: S608
            f"FROM (SELECT account_id, COUNT(*) AS n FROM {share_table} WHERE window_start = %s "
            "GROUP BY account_id) AS s WHERE q.account_id = s.account_id",
            [last, last],
        )
        # The previous run opened the last hour: this run records the last hour's usage only.
        QuotaResetRun.objects.create(
            window_start=last, started_at=last, duration_ms=0, quotas_reset=0, windows_recorded=0
        )
    _vacuum(ShareQuota._meta.db_table, Share._meta.db_table, ShareWindowUsage._meta.db_table)


def naive_reset_seconds_per_row(window: datetime, sample: int) -> float:
    """A per-row ORM loop that zeroes every counter, on `sample` rows, rolled back: seconds per row."""
    from django.db import transaction

    from miniprograms.models import ShareQuota

    class Rollback(Exception):
        pass

    start = time.perf_counter()
    rows = 0
    with contextlib.suppress(Rollback), transaction.atomic():
        for quota in ShareQuota.objects.order_by("pk")[:sample].iterator(chunk_size=2_000):
            quota.used = 0
            quota.window_start = window
            quota.save(update_fields=["used", "window_start"])
            rows += 1
        raise Rollback
    return (time.perf_counter() - start) / max(rows, 1)


def row_reset(context: "Context") -> list[Figure]:
    from miniprograms.models import ShareQuota
    from miniprograms.quota import window_start
    from miniprograms.services import share_quotas_reset

    window = window_start()
    quotas = ShareQuota.objects.count()
    accounts = context.accounts
    progress(f"  row 4: naive per-row loop on {NAIVE_RESET_SAMPLE:,} of {quotas:,} quota rows ...")
    per_row = naive_reset_seconds_per_row(window, min(NAIVE_RESET_SAMPLE, quotas))
    naive_seconds = per_row * quotas
    figures = []
    for fraction in (0.01, 0.10):
        sharing = round(accounts * fraction)
        progress(f"  row 4: reset with {fraction:.0%} shared ({sharing:,} accounts) ...")
        _reset_scenario(sharing, window)
        start = time.perf_counter()
        run = share_quotas_reset(now=window + timedelta(minutes=1))
        seconds = time.perf_counter() - start
        speedup = naive_seconds / seconds
        exact = run.quotas_reset == sharing and run.windows_recorded == sharing
        figures.append(
            Figure(
                row=4,
                measure=(
                    f"Hourly reset, {fraction:.0%} of {accounts:,} accounts shared: duration, "
                    "rows touched (quotas reset / usages recorded)"
                ),
                project=f"{seconds:,.2f} s; {run.quotas_reset:,} / {run.windows_recorded:,} rows",
                reference=(
                    f"naive per-row ORM loop: {naive_seconds:,.0f} s (scaled from {NAIVE_RESET_SAMPLE:,} "
                    f"rows); {quotas:,} rows"
                ),
                ratio=f"{speedup:,.0f}x faster",
                target=f"rows = {sharing:,}; ≥ 50x faster",
                met=exact and speedup >= 50,
            )
        )
    return figures


# ---------------------------------------------------------------------------------------------
# Row 5: admin list pages


def row_admin(context: "Context") -> list[Figure]:
    from benchmarks import admin_pages

    progress("  row 5: admin changelists ...")
    figures = []
    for result in admin_pages.measure_admin_pages(repeats=context.admin_repeats):
        value = result.project_ms / result.stock_ms
        count = f"{result.count:,} shown" + (" (estimated)" if result.estimated else " (exact)")
        figures.append(
            Figure(
                row=5,
                measure=f"Admin first page: {result.page}",
                project=f"{result.project_ms:,.0f} ms ({result.project_sql_ms:,.1f} ms SQL); {count}",
                reference=f"stock changelist: {result.stock_ms:,.0f} ms ({result.stock_sql_ms:,.1f} ms SQL)",
                ratio=f"{value:.3f}",
                target="< 0.1 of stock",
                met=value < 0.1,
            )
        )
    return figures


# ---------------------------------------------------------------------------------------------
# Row 6: criteria evaluation and the policy preview

NAIVE_EVALUATION_SAMPLE = 2_000


def row_criteria(context: "Context") -> list[Figure]:
    from django.db.models import Count

    from accounts.models import User
    from whitelist.criteria import evaluate
    from whitelist.models import (
        ApplicationAttachment,
        EntryState,
        PolicyPreview,
        WhitelistApplication,
        WhitelistEntry,
    )
    from whitelist.selectors import policy_active
    from whitelist.services import (
        _preview_batches,
        facts_of,
        policy_create_version,
        policy_preview_run,
        rules_of,
    )

    rules = rules_of(policy_active())
    applications = WhitelistApplication.objects.select_related("account__vertical")
    total = applications.count()
    progress(f"  row 6: criteria over {total:,} applications ...")
    now = datetime.now(UTC)
    start = time.perf_counter()
    evaluated = 0
    for batch in _preview_batches(applications, batch_size=500):
        attachments = dict(
            ApplicationAttachment.objects.filter(application__in=batch)
            .values("application_id")
            .annotate(count=Count("id"))
            .values_list("application_id", "count")
        )
        revoked = dict(
            WhitelistEntry.objects.filter(account_id__in=[a.account_id for a in batch]).values_list(
                "account_id", "revoked_at"
            )
        )
        for application in batch:
            facts = facts_of(
                application,
                now=now,
                attachment_count=attachments.get(application.pk, 0),
                last_revoked_at=revoked.get(application.account_id),
            )
            evaluate(facts, rules)
            evaluated += 1
    bulk_seconds = time.perf_counter() - start
    bulk_rate = evaluated / bulk_seconds

    # The per-application path: facts_of loads the account, its entry and its attachment count itself.
    sample = list(
        WhitelistApplication.objects.order_by("?").values_list("pk", flat=True)[:NAIVE_EVALUATION_SAMPLE]
    )
    start = time.perf_counter()
    for pk in sample:
        application = WhitelistApplication.objects.get(pk=pk)
        evaluate(facts_of(application, now=now), rules)
    naive_rate = len(sample) / (time.perf_counter() - start)

    progress("  row 6: policy preview over every entry ...")
    staff = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        username=f"bench-{secrets.token_hex(4)}", email="", password=secrets.token_urlsafe(24)
    )
    current = policy_active()
    candidate = policy_create_version(
        actor=staff,
        data={"min_followers": current.min_followers * 2 or 1000},
        open_verticals=None,
    )
    preview = PolicyPreview.objects.create(policy=candidate, compared_with=current, requested_by=staff)
    entries = WhitelistEntry.objects.filter(state=EntryState.ACTIVE).count()
    start = time.perf_counter()
    preview = policy_preview_run(preview=preview)
    preview_seconds = time.perf_counter() - start
    # The same rows one at a time, each loading its own facts (counted once: the second evaluation
    # of the same facts costs little beside the queries).
    naive_preview_seconds = preview.checked / naive_rate
    return [
        Figure(
            row=6,
            measure=f"Criteria evaluations per second over all {evaluated:,} applications",
            project=f"{bulk_rate:,.0f}/s ({bulk_seconds:,.1f} s in all)",
            reference=(
                f"per-application path: {naive_rate:,.0f}/s (sample of {len(sample):,}; "
                f"{evaluated / naive_rate:,.0f} s scaled)"
            ),
            ratio=f"{bulk_rate / naive_rate:,.1f}x",
        ),
        Figure(
            row=6,
            measure=(
                f"Policy preview over all {entries:,} active entries and open applications "
                f"({preview.checked:,} checked, {preview.became_ineligible:,} would lose eligibility)"
            ),
            project=f"{preview_seconds:,.1f} s ({preview.checked / preview_seconds:,.0f} rows/s)",
            reference=f"per-row path, scaled: {naive_preview_seconds:,.0f} s",
            ratio=f"{naive_preview_seconds / preview_seconds:,.1f}x faster",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Row 7: queries per request


def row_queries(context: "Context") -> list[Figure]:
    progress("  row 7: query counts of every API list and detail endpoint (pytest) ...")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "query-counts.json"
        env = {
            **context.env,
            "DJANGO_SETTINGS_MODULE": "portal.settings.test",
            "QUERY_COUNTS_REPORT": str(path),
            "REQUIRE_SERVICES": "1",
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/portal/test_query_counts.py",
        ]
        completed = run(command, env=env, timeout=900)
        if not path.exists():
            raise RuntimeError(f"the query count tests wrote no report:\n{completed.stdout[-2000:]}")
        entries = json.loads(path.read_text())
    constant = [e for e in entries if e["queries_small"] == e["queries_large"]]
    growing = [e for e in entries if e["queries_small"] != e["queries_large"]]
    rows = [
        (
            entry["endpoint"],
            entry["caller"],
            f"{entry['queries_small']} ({entry['rows_small']} rows)",
            f"{entry['queries_large']} ({entry['rows_large']} rows)",
        )
        for entry in entries
    ]
    context.run.sections.append(
        "### Queries per request (row 7)\n\n"
        "Measured by `tests/portal/test_query_counts.py`, which asserts them constant.\n\n"
        + markdown_table(("endpoint", "caller", "queries, few rows", "queries, more rows"), rows)
    )
    if completed.returncode != 0:
        context.run.failures.append(f"row 7: the query count tests failed:\n{completed.stdout[-3000:]}")
    most = max((e["queries_large"] for e in entries), default=0)
    return [
        Figure(
            row=7,
            measure=f"Queries per request, {len(entries)} API list and detail endpoints x callers",
            project=f"{len(constant)} constant, {len(growing)} growing; at most {most} queries",
            reference="the same request with more rows",
            ratio=f"{len(constant)}/{len(entries)} constant",
            target="constant on every endpoint",
            met=not growing and completed.returncode == 0 and bool(entries),
        )
    ]


# ---------------------------------------------------------------------------------------------
# Row 8: a bounded load test (mixed reads and share attempts)


def row_load(context: "Context") -> list[Figure]:
    from benchmarks import load_test

    seconds, rate = context.load_seconds, context.load_rate
    progress(f"  row 8: {rate:.0f} requests/s for {seconds:.0f} s against gunicorn ...")
    result = load_test.measure_load(context.env, seconds=seconds, rate=rate, accounts=20)
    if not result.passed:
        errors = "; ".join(result.connection_errors[:3])
        context.run.failures.append(f"row 8: the load test failed: {load_test.as_dict(result)} {errors}")
    return [
        Figure(
            row=8,
            measure="Load test: profile, lookup and share attempts of 20 accounts, steady rate, gunicorn",
            project=result.summary(),
            reference="",
            ratio=(
                f"{result.server_errors} 5xx, {len(result.connection_errors)} failed connections, "
                f"{result.over_grants + result.database_over_limit} over-grants"
            ),
            target="no 5xx, no over-grant",
            met=result.passed,
        )
    ]


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Context:
    run: Run
    env: dict[str, str]
    redis_url: str
    accounts: int
    seconds: float
    http_seconds: float
    admin_repeats: int
    load_seconds: float = 60
    load_rate: float = 60

    def flush_redis(self) -> None:
        """The benchmark owns its Redis database: empty it between measurements."""
        import redis

        with redis.Redis.from_url(self.redis_url) as client:
            client.flushdb()


ROWS: dict[int, Callable[[Context], list[Figure]]] = {
    1: row_exactness,
    2: row_decisions,
    3: row_http,
    4: row_reset,
    5: row_admin,
    6: row_criteria,
    7: row_queries,
    8: row_load,
}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=PROGRAMME_ACCOUNTS,
        help=f"accounts to seed (default {PROGRAMME_ACCOUNTS:,}, the programme's size)",
    )
    parser.add_argument("--rows", default=",".join(map(str, ALL_ROWS)), help="rows to run, e.g. 1,2,4")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="a local PostgreSQL server (BENCH_DATABASE_URL), where the scratch database is made",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL, help="Redis (REDIS_URL)"
    )
    parser.add_argument("--redis-db", type=int, default=12, help="Redis database the bench owns (default 12)")
    parser.add_argument("--scratch-database", default=SCRATCH_DATABASE)
    parser.add_argument("--keep", action="store_true", help="keep the seeded scratch database at the end")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="use a scratch database a --keep run left, if it has the same size",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per in-process rate (default 3)")
    parser.add_argument(
        "--http-seconds", type=float, default=10.0, help="seconds per HTTP target (default 10)"
    )
    parser.add_argument("--admin-repeats", type=int, default=5)
    parser.add_argument("--load-seconds", type=float, default=60, help="length of the load test (default 60)")
    parser.add_argument("--load-rate", type=float, default=60, help="load test requests/s (default 60)")
    parser.add_argument("--output", type=Path, default=REPORT_PATH, help="the Markdown file to write")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    arguments = parser.parse_args(argv)
    try:
        arguments.rows = sorted({int(row) for row in arguments.rows.split(",") if row.strip()})
    except ValueError:
        parser.error("--rows takes row numbers separated by commas, e.g. 1,2,4")
    if not arguments.rows or not set(arguments.rows) <= set(ALL_ROWS):
        parser.error(f"--rows must name rows among {', '.join(map(str, ALL_ROWS))}")
    if arguments.accounts < 1_000:
        parser.error("--accounts must be at least 1,000")
    return arguments


@contextlib.contextmanager
def scratch_database(
    server: PostgresServer, arguments: argparse.Namespace, env: dict[str, str]
) -> Iterator[str]:
    """The seeded scratch database; yields what it holds, for the report."""
    seed_line = f"`seed_scale --accounts {arguments.accounts} {' '.join(SEED_ARGUMENTS)}`"
    present = seeded_accounts(server) if arguments.reuse else None
    try:
        if present == arguments.accounts:
            progress(f"Reusing {server.scratch} ({present:,} seeded accounts) ...")
            manage("migrate", "--noinput", "--verbosity", "0", env=env, timeout=600)
            yield f"{present:,} official accounts, {seed_line}, reused from an earlier run"
        else:
            progress(
                f"Scratch database {server.scratch}: migrate and seed {arguments.accounts:,} accounts ..."
            )
            server.create()
            manage("migrate", "--noinput", "--verbosity", "0", env=env, timeout=600)
            start = time.perf_counter()
            manage(
                "seed_scale", "--accounts", str(arguments.accounts), *SEED_ARGUMENTS, env=env, timeout=1800
            )
            seconds = time.perf_counter() - start
            yield f"{arguments.accounts:,} official accounts, {seed_line} in {seconds:,.0f} s"
    finally:
        from django.apps import apps

        if apps.ready:
            from django.db import connections

            connections.close_all()
        if not arguments.keep:
            try:
                server.drop()
            except Exception as exc:
                print(f"Could not drop the scratch database {server.scratch}: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    started = datetime.now(UTC)
    clock = time.perf_counter()
    redis_url = redis_url_on_database(arguments.redis_url, arguments.redis_db)
    server = PostgresServer.parse(arguments.database_url, arguments.scratch_database)

    import redis

    try:
        with redis.Redis.from_url(redis_url, socket_connect_timeout=5) as client:
            redis_version = client.info("server")["redis_version"]
            client.flushdb()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis at {redis_url} is unreachable: {exc}") from None
    try:
        postgres_version, free_connections = server.describe()
    except Exception as exc:
        raise SystemExit(f"PostgreSQL at {server.host}:{server.port} is unreachable: {exc}") from None
    if 1 in arguments.rows and free_connections < EXACTNESS_PROCESSES * EXACTNESS_THREADS + 4:
        raise SystemExit(
            f"Row 1 needs 68 PostgreSQL connections at once; the server has {free_connections} free."
        )

    env = bench_environment(database_url=server.scratch_url, redis_url=redis_url)
    run = Run(
        started=started,
        machine=describe_machine(postgres_version, redis_version),
        commit=describe_commit(),
        data="",
    )
    with scratch_database(server, arguments, env) as data:
        run.data = data
        os.environ.update(env)
        import django

        django.setup()
        context = Context(
            run=run,
            env=env,
            redis_url=redis_url,
            accounts=arguments.accounts,
            seconds=arguments.seconds,
            http_seconds=arguments.http_seconds,
            admin_repeats=arguments.admin_repeats,
            load_seconds=arguments.load_seconds,
            load_rate=arguments.load_rate,
        )
        for row in arguments.rows:
            progress(f"Row {row} ...")
            row_start = time.perf_counter()
            try:
                run.figures.extend(ROWS[row](context))
            except Exception as exc:
                run.failures.append(f"row {row}: {exc!r}")
                progress(f"  row {row} FAILED: {exc!r}")
            progress(f"  row {row} took {time.perf_counter() - row_start:,.0f} s")
        context.flush_redis()
    run.elapsed = time.perf_counter() - clock
    text = report(run)
    print(text)
    if not arguments.no_write:
        write_report(text, arguments.output)
        progress(f"Written to {arguments.output}")
    if run.failures:
        return 1
    if arguments.strict and any(figure.met is False for figure in run.figures):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
