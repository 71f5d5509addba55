"""Why the share limit is not DRF's ScopedRateThrottle: the same concurrent bursts against three limiters.

    REDIS_URL=redis://127.0.0.1:6379/12 DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/throttle_comparison.py --accounts 20 --attempts 64 [--redis-db 12]

For each of N fresh accounts it starts --attempts threads, releases them together with a
threading.Barrier, and has each make one attempt at the account's share limit of 1 per hour:

- DRF: `rest_framework.throttling.ScopedRateThrottle` at `1/hour` (scope "share", one ident per
  account) on Django's RedisCache, the way DRF would throttle a view with `throttle_scope = "share"`;
- redis: the project's `miniprograms.quota.RedisQuota(...).consume(limit=1)` (one Lua script);
- database: the project's `DatabaseQuota().consume(limit=1)` inside `transaction.atomic()`, each
  thread on its own PostgreSQL connection (one conditional UPDATE on a locked row).

Each account should get exactly one grant; every grant beyond the first is an over-grant.

Both REDIS_URL and DATABASE_URL (PostgreSQL) are required. DATABASE_URL only names the local
server: the script creates its own scratch database (portal_throttle_bench, dropped first if a
killed run left it), migrates it with `manage.py migrate`, and drops it at the end. Redis is used on
the database number --redis-db (default 12), whatever REDIS_URL says; the keys are removed at the end.
Settings: portal.settings.local with that scratch database. Exit status 1 when an attempt failed or
a project backend granted anything but exactly one per account; DRF's over-grants are the finding.
"""

import argparse
import contextlib
import os
import platform
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from benchmarks.attempts import (  # noqa: E402 - after the path is set
    THROTTLE_RATE,
    THROTTLE_SCOPE,
    burst,
    drf_attempt,
    drf_share_throttle,
)
from benchmarks.processes import manage  # noqa: E402
from benchmarks.scratch_services import SCRATCH_DATABASE, PostgresServer, redis_url_on_database  # noqa: E402

SETTINGS_MODULE = "portal.settings.local"
LIMIT = 1  # the same limit for all three: one share per account and hour
CACHE_PREFIX = "throttle-bench"  # the Django cache's KEY_PREFIX, with a token per run
# Account ids for the Redis quota keys: far above any real account, a random block per run.
REDIS_ACCOUNT_BASE = 10**12
MAX_ACCOUNTS = 1000


# ---------------------------------------------------------------------------------------------
# The arguments and the scratch PostgreSQL database


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--accounts", type=int, default=20, help="fresh accounts, one burst each (default 20)"
    )
    parser.add_argument(
        "--attempts", type=int, default=64, help="concurrent attempts per account and backend (default 64)"
    )
    parser.add_argument(
        "--redis-db",
        type=int,
        default=12,
        help="Redis database number used instead of REDIS_URL's (default 12)",
    )
    parser.add_argument(
        "--scratch-database",
        default=SCRATCH_DATABASE,
        help=f"scratch PostgreSQL database, dropped and created again (default {SCRATCH_DATABASE})",
    )
    parser.add_argument(
        "--timeout", type=float, default=60, help="seconds one burst (or the migration) may take (default 60)"
    )
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.accounts <= MAX_ACCOUNTS:
        parser.error(f"--accounts must be between 1 and {MAX_ACCOUNTS}")
    if arguments.attempts < 2:
        parser.error("--attempts must be at least 2")
    if not 0 <= arguments.redis_db <= 15:
        parser.error("--redis-db must be between 0 and 15")
    if arguments.timeout <= 0:
        parser.error("--timeout must be positive")
    return arguments


def _required_environment() -> tuple[str, str]:
    missing = [name for name in ("REDIS_URL", "DATABASE_URL") if not os.environ.get(name)]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise SystemExit(
            f"{' and '.join(missing)} {verb} not set. The comparison needs both a Redis server and a "
            "local PostgreSQL server, e.g.\n  REDIS_URL=redis://127.0.0.1:6379/12 "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres "
            "python benchmarks/throttle_comparison.py\n"
            f"(the script makes its own scratch database {SCRATCH_DATABASE} on that server)."
        )
    return os.environ["REDIS_URL"], os.environ["DATABASE_URL"]


def migrate(server: PostgresServer, *, env: dict[str, str], timeout: float) -> None:
    server.create()
    manage("migrate", "--noinput", "--verbosity", "0", env=env, timeout=timeout, capture_output=True)


@contextlib.contextmanager
def _scratch_database(server: PostgresServer, *, env: dict[str, str], timeout: float) -> Iterator[None]:
    try:
        migrate(server, env=env, timeout=timeout)
        yield
    finally:
        from django.apps import apps

        if apps.ready:  # else Django was never set up: no connection to close
            from django.db import connections

            connections.close_all()
        try:
            server.drop()
        except Exception as exc:
            print(f"Could not drop the scratch database {server.scratch}: {exc}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# The three backends over all accounts


@dataclass(frozen=True, slots=True)
class BackendResult:
    backend: str
    accounts: int
    attempts: int
    grants: list[int]  # per account
    errors: list[str]

    @property
    def total_grants(self) -> int:
        return sum(self.grants)

    @property
    def over_grants(self) -> int:
        return sum(max(0, grants - LIMIT) for grants in self.grants)

    @property
    def accounts_over(self) -> int:
        return sum(grants > LIMIT for grants in self.grants)

    @property
    def accounts_under(self) -> int:
        return sum(grants < LIMIT for grants in self.grants)


def run_backend(
    name: str,
    attempt_for: Callable[[int], Callable[[], bool]],
    accounts: list[int],
    *,
    attempts: int,
    timeout: float,
    before: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
) -> BackendResult:
    print(f"  {name}: {len(accounts)} bursts of {attempts} ...", file=sys.stderr, flush=True)
    grants: list[int] = []
    errors: list[str] = []
    for account in accounts:
        try:
            result = burst(
                attempt_for(account), attempts=attempts, timeout=timeout, before=before, after=after
            )
        except TimeoutError as exc:
            raise SystemExit(f"{name}, account {account}: {exc}; stopped.") from None
        grants.append(result.granted)
        errors.extend(f"account {account}: {error}" for error in result.errors)
    return BackendResult(name, len(accounts), attempts, grants, errors)


def table(results: list[BackendResult]) -> str:
    header = (
        "backend",
        "accounts",
        "attempts each",
        "total grants",
        "over-grants",
        "accounts with over-grants",
    )
    lines = [
        (
            result.backend,
            f"{result.accounts:,}",
            f"{result.attempts:,}",
            f"{result.total_grants:,}",
            f"{result.over_grants:,}",
            f"{result.accounts_over:,}",
        )
        for result in results
    ]
    from benchmarks.tables import text_table

    return text_table(header, lines)


def _setup_django(*, database_url: str, redis_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ["DJANGO_DEBUG"] = "false"  # no query log kept in memory
    import django

    django.setup()


def fresh_accounts(count: int, label: str) -> list[int]:
    """Accounts of their own in the scratch database, with no quota row and no share yet.

    `label` makes their uids unique: give each run its own (a random token in it).
    """
    from accounts.models import AccountKind, OfficialAccount, Organization, OrganizationKind, Vertical

    vertical = Vertical.objects.order_by("pk").first()
    if vertical is None:
        raise SystemExit("The scratch database has no vertical; did the migrations run?")
    organization = Organization.objects.create(name=f"Bench {label}", kind=OrganizationKind.ENTERPRISE)
    created = OfficialAccount.objects.bulk_create(
        OfficialAccount(
            organization=organization,
            platform_uid=f"bench-{label}-{number}",
            screen_name=f"Bench {label} {number}",
            kind=AccountKind.ENTERPRISE,
            vertical=vertical,
        )
        for number in range(count)
    )
    return sorted(account.pk for account in created)


def compare(*, accounts: int, attempts: int, timeout: float, redis_url: str) -> list[BackendResult]:
    import redis
    from django.core.cache.backends.redis import RedisCache
    from django.db import connection, transaction

    from miniprograms.quota import DatabaseQuota, RedisQuota, window_start

    run = secrets.token_hex(4)
    window = window_start()
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=10)
    cache_prefix = f"{CACHE_PREFIX}:{run}"
    cache = RedisCache(redis_url, {"KEY_PREFIX": cache_prefix, "TIMEOUT": 3600})
    base = REDIS_ACCOUNT_BASE + secrets.randbelow(10**6) * MAX_ACCOUNTS
    redis_accounts = [base + number for number in range(accounts)]
    quota_keys = [RedisQuota.key(account, window) for account in redis_accounts]

    def clean_redis() -> None:
        client.delete(*quota_keys)
        for key in client.scan_iter(match=f"{cache_prefix}:*", count=1000):
            client.delete(key)

    try:
        clean_redis()
        throttle = drf_share_throttle(cache)
        drf = run_backend(
            "DRF ScopedRateThrottle (Redis cache)",
            lambda account: drf_attempt(throttle, f"account-{account}"),
            redis_accounts,
            attempts=attempts,
            timeout=timeout,
        )
        quota = RedisQuota(client)

        def redis_attempt(account: int) -> Callable[[], bool]:
            def attempt() -> bool:
                return quota.consume(account_id=account, limit=LIMIT, window=window).granted

            return attempt

        on_redis = run_backend(
            "project RedisQuota (Lua)",
            redis_attempt,
            redis_accounts,
            attempts=attempts,
            timeout=timeout,
        )
    finally:
        clean_redis()
        client.close()

    def database_attempt(account: int) -> Callable[[], bool]:
        def attempt() -> bool:
            with transaction.atomic():
                return DatabaseQuota().consume(account_id=account, limit=LIMIT, window=window).granted

        return attempt

    # `connection` stands for the calling thread's own connection: look it up in each thread.
    def connect() -> None:
        connection.ensure_connection()  # before the barrier, so connecting does not spread the burst

    def disconnect() -> None:
        connection.close()

    database_accounts = fresh_accounts(accounts, f"throttle-{run}")
    disconnect()  # the main thread's, so the bursts have the connections
    on_database = run_backend(
        "project DatabaseQuota (PostgreSQL)",
        database_attempt,
        database_accounts,
        attempts=attempts,
        timeout=timeout,
        before=connect,
        after=disconnect,
    )
    return [drf, on_redis, on_database]


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    given_redis_url, given_database_url = _required_environment()
    redis_url = redis_url_on_database(given_redis_url, arguments.redis_db)
    server = PostgresServer.parse(given_database_url, arguments.scratch_database)

    import redis

    try:
        with redis.Redis.from_url(redis_url, socket_connect_timeout=5) as client:
            redis_version = client.info("server")["redis_version"]
    except redis.RedisError as exc:
        raise SystemExit(f"Redis at {redis_url} is unreachable: {exc}") from None
    try:
        postgres_version, free_connections = server.describe()
    except Exception as exc:
        raise SystemExit(f"PostgreSQL at {server.host}:{server.port} is unreachable: {exc}") from None

    if arguments.attempts > free_connections - 1:  # less the main thread's own connection
        raise SystemExit(
            f"--attempts {arguments.attempts} needs as many PostgreSQL connections at once; the server "
            f"has {free_connections - 1} free. Lower --attempts or raise max_connections."
        )

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "DATABASE_URL": server.scratch_url,
        "REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
    }
    print(f"Scratch database {server.host}:{server.port}/{server.scratch} ...", file=sys.stderr, flush=True)
    with _scratch_database(server, env=env, timeout=max(arguments.timeout, 300)):
        _setup_django(database_url=server.scratch_url, redis_url=redis_url)
        results = compare(
            accounts=arguments.accounts,
            attempts=arguments.attempts,
            timeout=arguments.timeout,
            redis_url=redis_url,
        )

    print()
    print(
        f"Share limit {LIMIT} per account and hour: {arguments.accounts} fresh accounts, "
        f"{arguments.attempts} concurrent attempts each (threads released by a barrier); "
        f"Redis {redis_version} (db {arguments.redis_db}), {postgres_version}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print()
    print(table(results))
    print()
    print("over-grants: grants beyond the limit of 1, summed over the accounts.")
    print(
        f"DRF: ScopedRateThrottle at {THROTTLE_RATE} (scope {THROTTLE_SCOPE!r}) on django RedisCache; "
        "it reads the history with GET and writes it back with SET, so every request that reads before "
        "the first write sees an empty history and is granted."
    )
    print("The project's backends decide in one atomic step (a Lua script; a conditional UPDATE on a row).")

    problems = [f"{result.backend}: {error}" for result in results for error in result.errors[:5]]
    for result in results:
        if result.accounts_under:
            problems.append(f"{result.backend}: {result.accounts_under} accounts got no grant at all")
        if result.backend.startswith("project") and result.over_grants:
            problems.append(f"{result.backend}: {result.over_grants} over-grants")
    for problem in problems:
        print(f"UNEXPECTED {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
