"""Benchmark of the directory import (`manage.py import_accounts`), reproducible from one command.

    .venv/bin/python benchmarks/import_accounts.py --rows 200000 [--batch-size 1000]
        [--database-url postgres://postgres@127.0.0.1:5432/portal_bench] [--seed 1] [--keep]

It writes a deterministic directory CSV (seeded random; about 1% bad rows of assorted kinds, 60% of
the rows with a valid unified social credit code, organizations shared by several accounts), makes a
scratch database (a fresh PostgreSQL database when given a URL, else a temporary SQLite file), runs
`manage.py migrate` and then each import pass in its own process, timing it and reading the peak
resident memory of that process from the operating system (no /usr/bin/time needed):

1. first import of N/10 rows into an empty database (the memory comparison);
2. first import of N rows into an empty database: all created;
3. the same uids with changed followers and screen names: all updated;
4. that changed file again: nothing to change (the command still counts the rows as updated).

The scratch database and the temporary files are removed at the end unless --keep is given.
"""

import argparse
import contextlib
import functools
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from benchmarks.directory_files import DirectoryFiles, directory_files_write  # noqa: E402
from benchmarks.processes import manage, manage_command  # noqa: E402
from benchmarks.scratch_services import LOCAL_HOSTS, PROTECTED_DATABASES  # noqa: E402

SUMMARY = re.compile(r"created ([\d,]+), updated ([\d,]+), rejected ([\d,]+)")
ROWS_READ = re.compile(r": ([\d,]+) rows in ")

# ---------------------------------------------------------------------------------------------
# The scratch database


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    url: str
    name: str
    host: str | None
    port: int
    user: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> "PostgresTarget":
        parts = urlsplit(url)
        if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
            raise SystemExit(f"--database-url must be a postgres:// URL, not {parts.scheme}://.")
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise SystemExit("--database-url must name the scratch database, e.g. .../portal_bench.")
        if name in PROTECTED_DATABASES:
            raise SystemExit(
                f"Refusing to use the database {name!r}: the benchmark drops and creates its database. "
                "Name a scratch database such as portal_bench."
            )
        if parts.hostname not in LOCAL_HOSTS:
            raise SystemExit(f"The benchmark only uses a local PostgreSQL server, not {parts.hostname!r}.")
        return cls(
            url=url,
            name=name,
            host=parts.hostname,
            port=parts.port or 5432,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def _execute(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        query = sql.SQL(statement).format(name=sql.Identifier(self.name))
        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as connection:
            connection.execute(query)

    def version(self) -> str:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=self.name
        ) as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {row[0] if row else '?'}"

    def create(self) -> None:
        self.drop()
        self._execute("CREATE DATABASE {name}")

    def drop(self) -> None:
        # FORCE (PostgreSQL 13+) ends the sessions of a pass that was killed on time-out.
        self._execute("DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def describe(self) -> str:
        return f"{self.host}:{self.port}/{self.name}"


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    path: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def create(self) -> None:
        self.drop()

    def drop(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def describe(self) -> str:
        return str(self.path)


Target = PostgresTarget | SqliteTarget


# ---------------------------------------------------------------------------------------------
# Running and measuring the passes


@dataclass(frozen=True, slots=True)
class PassResult:
    label: str
    rows: int
    created: int
    updated: int
    rejected: int
    wall: float
    peak_rss_mb: float


def _environment(target: Target) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": target.url, "PYTHONUNBUFFERED": "1"}


def migrate(target: Target, *, timeout: float) -> None:
    target.create()
    manage(
        "migrate",
        "--noinput",
        "--verbosity",
        "0",
        env=_environment(target),
        timeout=timeout,
        capture_output=True,
    )


def _peak_rss_mb(max_rss: int) -> float:
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    return max_rss / (1024 * 1024) if sys.platform == "darwin" else max_rss / 1024


def _run_measured(
    command: list[str], *, env: dict[str, str], timeout: float, log_dir: Path
) -> tuple[str, float, float]:
    """Run one process; its stdout, its wall time and its own peak RSS (the rusage of wait4)."""
    stdout_path = log_dir / "stdout.txt"
    stderr_path = log_dir / "stderr.txt"
    timed_out = threading.Event()
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
            command, cwd=PROJECT_DIR, env=env, stdout=stdout, stderr=stderr
        )

    def kill() -> None:
        timed_out.set()
        os.kill(process.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    ended: float | None = None
    try:
        # Wait without reaping where possible, so the timer can only ever kill this process.
        if hasattr(os, "waitid"):
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            ended = time.perf_counter()
    finally:
        timer.cancel()
        timer.join()
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = (ended if ended is not None else time.perf_counter()) - started
    process.returncode = os.waitstatus_to_exitcode(status)
    output = stdout_path.read_text(encoding="utf-8", errors="replace")
    if timed_out.is_set():
        raise SystemExit(f"{' '.join(command[1:])} took more than {timeout:.0f} s; stopped it.")
    if process.returncode != 0:
        errors = stderr_path.read_text(encoding="utf-8", errors="replace")
        raise SystemExit(
            f"{' '.join(command[1:])} failed with exit status {process.returncode}:\n{output}{errors}"
        )
    return output, wall, _peak_rss_mb(usage.ru_maxrss)


def import_pass(
    label: str, path: Path, target: Target, *, batch_size: int, timeout: float, log_dir: Path
) -> PassResult:
    print(f"  {label}: {path.name} ...", file=sys.stderr, flush=True)
    output, wall, peak = _run_measured(
        manage_command("import_accounts", str(path), "--quiet", "--batch-size", str(batch_size)),
        env=_environment(target),
        timeout=timeout,
        log_dir=log_dir,
    )
    counts = SUMMARY.search(output)
    rows = ROWS_READ.search(output)
    if counts is None or rows is None:
        raise SystemExit(f"Cannot read the summary of import_accounts:\n{output}")
    created, updated, rejected = (int(value.replace(",", "")) for value in counts.groups())
    return PassResult(
        label=label,
        rows=int(rows.group(1).replace(",", "")),
        created=created,
        updated=updated,
        rejected=rejected,
        wall=wall,
        peak_rss_mb=peak,
    )


def _expected(result: PassResult, files: DirectoryFiles, *, created: bool) -> list[str]:
    good = files.rows - files.bad_rows
    want = (files.rows, good, 0, files.bad_rows) if created else (files.rows, 0, good, files.bad_rows)
    got = (result.rows, result.created, result.updated, result.rejected)
    if got == want:
        return []
    names = ("rows", "created", "updated", "rejected")
    return [
        f"{result.label}: expected {dict(zip(names, want, strict=True))}, "
        f"got {dict(zip(names, got, strict=True))}"
    ]


def table(results: list[PassResult]) -> str:
    header = ("pass", "rows", "created", "updated", "rejected", "wall s", "rows/s", "peak RSS MB")
    lines = [
        (
            result.label,
            f"{result.rows:,}",
            f"{result.created:,}",
            f"{result.updated:,}",
            f"{result.rejected:,}",
            f"{result.wall:.1f}",
            f"{result.rows / result.wall:,.0f}" if result.wall > 0 else "-",
            f"{result.peak_rss_mb:.1f}",
        )
        for result in results
    ]
    from benchmarks.tables import text_table

    return text_table(header, lines)


# ---------------------------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the big file (default 200000)")
    parser.add_argument(
        "--batch-size", type=int, default=1000, help="passed to import_accounts (default 1000)"
    )
    parser.add_argument(
        "--database-url",
        help="postgres://user@127.0.0.1:5432/SCRATCH, dropped and created again "
        "(default: a temporary SQLite file)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated files (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and the CSV files")
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds any one step may take before it is stopped"
    )
    arguments = parser.parse_args(argv)
    if arguments.rows < 100:
        parser.error("--rows must be at least 100")
    if arguments.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    return arguments


@contextlib.contextmanager
def _scratch(arguments: argparse.Namespace) -> Iterator[tuple[Path, Target]]:
    postgres = PostgresTarget.parse(arguments.database_url) if arguments.database_url else None
    work_dir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    target: Target = postgres or SqliteTarget(work_dir / "bench.sqlite3")
    try:
        yield work_dir, target
    finally:
        if arguments.keep:
            print(f"Kept the database {target.describe()} and the files in {work_dir}.", file=sys.stderr)
        else:
            try:
                target.drop()
            except Exception as exc:
                print(f"Could not drop the database {target.describe()}: {exc}", file=sys.stderr)
            shutil.rmtree(work_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    small_rows = arguments.rows // 10
    with _scratch(arguments) as (work_dir, target):
        run = functools.partial(
            import_pass,
            target=target,
            batch_size=arguments.batch_size,
            timeout=arguments.timeout,
            log_dir=work_dir,
        )
        print(
            f"Writing {small_rows:,} and {arguments.rows:,} rows (seed {arguments.seed}) ...", file=sys.stderr
        )
        small = directory_files_write(work_dir, rows=small_rows, seed=arguments.seed)
        big = directory_files_write(work_dir, rows=arguments.rows, seed=arguments.seed)

        print(f"Fresh database {target.describe()} for the small file ...", file=sys.stderr, flush=True)
        migrate(target, timeout=arguments.timeout)
        database = target.version()
        small_first = run("first import, N/10 rows", small.first)

        print(f"Fresh database {target.describe()} for the big file ...", file=sys.stderr, flush=True)
        migrate(target, timeout=arguments.timeout)
        first = run("1 first import", big.first)
        changed = run("2 changed rows", big.changed)
        again = run("3 same file again", big.changed)

    results = [first, changed, again, small_first]
    problems = [
        *_expected(first, big, created=True),
        *_expected(changed, big, created=False),
        *_expected(again, big, created=False),
        *_expected(small_first, small, created=True),
    ]
    print()
    print(
        f"Directory import: {arguments.rows:,} rows ({big.bad_rows:,} bad), "
        f"batch size {arguments.batch_size}, "
        f"seed {arguments.seed} (file {big.digest}); {database}; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs"
    )
    print()
    print(table(results))
    print()
    print("wall s: the whole `manage.py import_accounts` process, start-up included; rows/s = rows / wall s;")
    print("peak RSS MB: that process's own maximum resident set (getrusage via wait4), in MiB.")
    print("Pass 3 changes nothing: the command counts the rows as updated, but writes none.")
    for problem in problems:
        print(f"UNEXPECTED {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
