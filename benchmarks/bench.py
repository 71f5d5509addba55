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
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

# The rows, and what they share; the names the tests read are named here too.
from benchmarks.bench_common import (  # noqa: E402
    ALL_ROWS,
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    PROGRAMME_ACCOUNTS,
    REPORT_PATH,
    SCRATCH_DATABASE,
    SEED_ARGUMENTS,
    Context,
    Figure,
    Run,
    bench_environment,
    describe_commit,
    describe_machine,
    progress,
    report,
    seeded_accounts,
    write_report,
)
from benchmarks.bench_criteria import row_criteria  # noqa: E402
from benchmarks.bench_quota import (  # noqa: E402
    EXACTNESS_PROCESSES,
    EXACTNESS_THREADS,
    row_decisions,
    row_exactness,
    row_reset,
)
from benchmarks.bench_serving import row_admin, row_http, row_load, row_queries  # noqa: E402
from benchmarks.processes import manage  # noqa: E402 - after the path is set
from benchmarks.scratch_services import PostgresServer, redis_url_on_database  # noqa: E402

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
