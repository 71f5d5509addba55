"""Rows 1, 2 and 4 of `make bench`: share quota exactness, share decisions per second, the hourly reset."""

import contextlib
import multiprocessing
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from benchmarks.attempts import drf_attempt, drf_share_throttle
from benchmarks.bench_common import Context, Figure, progress, ratio, timed_rate
from benchmarks.throttle_comparison import fresh_accounts

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
