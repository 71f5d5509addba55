"""What every row of `make bench` shares: the figures, the report, the run's context and environment."""

import contextlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.processes import PROJECT_DIR
from benchmarks.scratch_services import PostgresServer

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


def _git(*arguments: str) -> str:
    return subprocess.run(  # noqa: S603 - git from PATH with our own arguments
        ["git", *arguments],  # noqa: S607
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def describe_commit() -> str:
    try:
        commit = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
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
