"""Rows 3, 5, 7 and 8 of `make bench`: HTTP under gunicorn, admin pages, queries per request, load."""

import json
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_common import Context, Figure, markdown_table, progress
from benchmarks.processes import run
from benchmarks.wrk import HttpResult

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

    def cpu(result: HttpResult) -> str:
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
