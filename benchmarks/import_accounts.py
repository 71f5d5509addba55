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
import csv
import functools
import hashlib
import importlib
import os
import platform
import random
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

from accounts.validators import CREDIT_CODE_ALPHABET, credit_code_check_character  # noqa: E402
from benchmarks.processes import manage, manage_command  # noqa: E402

# The verticals the data migration creates; a benchmark file must use codes that exist.
VERTICAL_CODES: tuple[str, ...] = tuple(
    code for code, _name in importlib.import_module("accounts.migrations.0002_initial_verticals").VERTICALS
)
COLUMNS = (
    "platform",
    "platform_uid",
    "screen_name",
    "kind",
    "vertical",
    "followers_count",
    "verification_status",
    "organization_name",
    "organization_kind",
    "organization_credit_code",
)
KINDS = ("government", "enterprise", "media", "other")
KIND_WEIGHTS = (25, 55, 12, 8)
# Registration authority and organization type, the first two characters of a credit code.
CREDIT_CODE_PREFIXES = {"government": "11", "enterprise": "91", "media": "12", "other": "51"}
CITIES = ("北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "苏州", "长沙")
TOPICS = ("发布", "在线", "交通", "文旅", "健康", "教育", "新闻", "生活", "美食", "商城", "服务", "资讯")
ENGLISH_WORDS = ("Harbour", "Lakeside", "Pioneer", "Summit", "Golden", "River", "Jade", "Maple", "Orbit")
# Scratch databases are dropped and created again: never these.
PROTECTED_DATABASES = frozenset({"portal", "portal_ci", "portal_dev", "postgres", "template0", "template1"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
BAD_ROW_SHARE = 100  # one row in this many is bad
CREDIT_CODE_SHARE = 0.6  # the share of organizations (so of rows) with a credit code
ACCOUNTS_PER_ORGANIZATION = 4  # on average; organizations are picked at random for each row
SUMMARY = re.compile(r"created ([\d,]+), updated ([\d,]+), rejected ([\d,]+)")
ROWS_READ = re.compile(r": ([\d,]+) rows in ")


def _rng(seed: int, stream: str) -> random.Random:
    # Not for security: the point is the same file from the same seed.
    return random.Random(f"{seed}:{stream}")  # noqa: S311


# ---------------------------------------------------------------------------------------------
# The directory files


@dataclass(frozen=True, slots=True)
class DirectoryFiles:
    first: Path  # the first import
    changed: Path  # the same uids, followers and screen names changed
    rows: int
    bad_rows: int
    digest: str  # of the first file, to compare runs


def _credit_code(index: int, kind: str, rng: random.Random) -> str:
    """A valid credit code, unique per organization index (characters 9-17 encode it in base 31)."""
    region = f"{rng.randrange(110000, 660000):06d}"
    digits = []
    for _position in range(9):
        index, digit = divmod(index, len(CREDIT_CODE_ALPHABET))
        digits.append(CREDIT_CODE_ALPHABET[digit])
    first_17 = CREDIT_CODE_PREFIXES[kind] + region + "".join(reversed(digits))
    return first_17 + credit_code_check_character(first_17)


def _wrong_check_character(code: str) -> str:
    alphabet = CREDIT_CODE_ALPHABET
    return code[:17] + alphabet[(alphabet.index(code[17]) + 1) % len(alphabet)]


def _screen_name(rng: random.Random, number: int) -> str:
    if rng.random() < 0.7:
        return f"{rng.choice(CITIES)}{rng.choice(TOPICS)}{number % 1000}"
    return f"{rng.choice(ENGLISH_WORDS)} {rng.choice(ENGLISH_WORDS)} {number % 1000}"


# Each bad kind turns a good row into one the import rejects, the same way in both files, so a
# row rejected by the first import is rejected again (its account never exists).
BAD_KINDS: dict[str, dict[str, str] | None] = {
    "negative followers": {"followers_count": "-15"},
    "followers not a number": {"followers_count": "12k"},
    "unknown vertical": {"vertical": "astrology"},
    "unknown kind": {"kind": "robot"},
    "unknown platform": {"platform": "myspace"},
    "missing uid": {"platform_uid": ""},
    "blank screen name": {"screen_name": ""},
    "screen name too long": {"screen_name": "长" * 101},
    "unknown verification status": {"verification_status": "pending"},
    "new account without organization": {"organization_name": "", "organization_credit_code": ""},
    "wrong credit code check character": None,  # handled in _row_spoil
    "unquoted comma (one value too many)": None,  # handled in _row_spoil
}


def _row_spoil(values: dict[str, str], bad_kind: str) -> list[str]:
    spoiled = dict(values)
    change = BAD_KINDS[bad_kind]
    if change is not None:
        spoiled.update(change)
    elif bad_kind == "wrong credit code check character":
        code = spoiled["organization_credit_code"] or _credit_code(0, "enterprise", _rng(0, "bad"))
        spoiled["organization_credit_code"] = _wrong_check_character(code)
    record = [spoiled[column] for column in COLUMNS]
    if bad_kind == "unquoted comma (one value too many)":
        record.insert(3, "Ltd")
    return record


def directory_files_write(directory: Path, *, rows: int, seed: int) -> DirectoryFiles:
    """Write the first and the changed directory file of `rows` rows, the same for the same seed."""
    rng = _rng(seed, "rows")
    changes = _rng(seed, "changes")
    organization_rng = _rng(seed, "organizations")
    organization_count = max(1, rows // ACCOUNTS_PER_ORGANIZATION)
    # Drawn in the order organizations are met, so the same seed gives the same organizations.
    organizations: dict[int, tuple[str, str, str]] = {}
    bad_lines = set(rng.sample(range(rows), rows // BAD_ROW_SHARE))
    bad_kinds = list(BAD_KINDS)
    first_path = directory / f"directory-{rows}.csv"
    changed_path = directory / f"directory-{rows}-changed.csv"
    with (
        first_path.open("w", encoding="utf-8", newline="") as first_file,
        changed_path.open("w", encoding="utf-8", newline="") as changed_file,
    ):
        first_csv = csv.writer(first_file)
        changed_csv = csv.writer(changed_file)
        first_csv.writerow(COLUMNS)
        changed_csv.writerow(COLUMNS)
        for index in range(rows):
            organization_index = rng.randrange(organization_count)
            if organization_index not in organizations:
                new_kind = organization_rng.choices(KINDS, KIND_WEIGHTS)[0]
                code = (
                    _credit_code(organization_index, new_kind, organization_rng)
                    if organization_rng.random() < CREDIT_CODE_SHARE
                    else ""
                )
                organizations[organization_index] = (
                    f"Bench Organization {organization_index}",
                    new_kind,
                    code,
                )
            organization_name, organization_kind, credit_code = organizations[organization_index]
            kind = organization_kind if rng.random() < 0.9 else rng.choice(KINDS)
            # A bijection of the index onto 10-digit numbers (4294967311 is prime): unique uids,
            # in no particular order, as a real export would be.
            uid = str(5_000_000_000 + index * 2_654_435_761 % 4_294_967_311)
            values = {
                "platform": "weibo" if rng.random() < 0.8 else "",
                "platform_uid": uid,
                "screen_name": _screen_name(rng, index),
                "kind": kind,
                "vertical": rng.choice(VERTICAL_CODES),
                "followers_count": str(min(int(rng.paretovariate(1.1) * 500), 900_000_000)),
                "verification_status": rng.choices(
                    ("verified", "unverified", "", "rejected"), (5, 2, 3, 0.2)
                )[0],
                "organization_name": organization_name,
                "organization_kind": organization_kind if rng.random() < 0.7 else "",
                "organization_credit_code": credit_code,
            }
            changed = dict(values)
            changed["followers_count"] = str(int(values["followers_count"]) + changes.randrange(1, 5000))
            if changes.random() < 0.5:
                changed["screen_name"] = f"{values['screen_name']}·新"
            if index in bad_lines:
                bad_kind = bad_kinds[rng.randrange(len(bad_kinds))]
                first_record = _row_spoil(values, bad_kind)
                changed_record = _row_spoil(changed, bad_kind)
            else:
                first_record = [values[column] for column in COLUMNS]
                changed_record = [changed[column] for column in COLUMNS]
            first_csv.writerow(first_record)
            changed_csv.writerow(changed_record)
    return DirectoryFiles(
        first=first_path,
        changed=changed_path,
        rows=rows,
        bad_rows=len(bad_lines),
        digest=hashlib.sha256(first_path.read_bytes()).hexdigest()[:12],
    )


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
