"""HTTP throughput and latency under gunicorn, by wrk: the cached profile, a refused share, a trivial view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python benchmarks/http_load.py [--duration 15] [--rounds 5] [--connections 16]

DATABASE_URL names a database that is already migrated (`manage.py migrate`); the benchmark adds
what it needs through the project's services (the demo data of `manage.py seed_demo` when no live
profile link exists, an API key with the scope shares:write, and shares that use up one account's
quota for the current hour). REDIS_URL is the cache, the throttles' store and the share quota.

gunicorn serves `portal.wsgi` with the settings `benchmarks.settings` (production settings over
plain HTTP, plus the trivial reference endpoint), as many sync workers as the machine has cores,
bound to 127.0.0.1 with the access log off. wrk, in its own process on the same machine, loads one
endpoint at a time, in rounds that take the endpoints in turn (a neighbour's load on a shared
machine then falls on all of them), after a short warm-up:

- profile: `GET /api/v1/profiles/weibo/<uid>/miniprograms/`, public and served from the cache;
- share: `POST /api/v1/miniprograms/<id>/shares/` with an API key, refused with 429 (quota used up);
- trivial: `GET /bench/trivial/`, DRF's least (default authentication and throttles, a fixed body).

The throttle rates are set so high, per second, that they never refuse and their histories stay
short (see `bench_environment`). gunicorn's sync workers close the connection after each response,
so every request includes a TCP connect on loopback, for all three alike. Beside requests per
second and latency, the table gives the CPU time of gunicorn's processes per request, which a busy
machine disturbs less. The target: the profile at 0.8 or more of the trivial endpoint's requests per
second. Exit status 1 when a response had an unexpected status, a socket error occurred, or the
profile missed the target.
"""

import argparse
import io
import os
import platform
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from benchmarks.gunicorn_server import HOST, gunicorn_server  # noqa: E402
from benchmarks.wrk import (  # noqa: E402
    HttpResult,
    Target,
    ensure_wrk,
    merge_rounds,
    run_wrk,
)

SETTINGS_MODULE = "benchmarks.settings"
TARGET_RATIO = 0.8  # the profile's requests per second over the trivial endpoint's
# Far above what one machine serves: the throttles count (portal/throttling.py) but never refuse.
UNLIMITED_RATE = "1000000/second"
THROTTLE_RATE_VARIABLES = ("API_KEY_RATE", "API_ANON_RATE", "API_IP_RATE", "PROFILE_RATE", "API_USER_RATE")
BENCH_API_KEY_NAME = "HTTP benchmark"

# ---------------------------------------------------------------------------------------------
# Environment, data and targets


def bench_environment(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of the benchmark's gunicorn and of the process that prepares its data."""
    return {
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
        "DJANGO_READ_DOT_ENV": "false",  # a developer's .env must not change what is measured
        "DJANGO_LOG_LEVEL": "WARNING",
        # Persistent connections, as docker-compose.yml runs the portal.
        "DATABASE_CONN_MAX_AGE": "60",
        **dict.fromkeys(THROTTLE_RATE_VARIABLES, UNLIMITED_RATE),
    }


def setup_django(env: Mapping[str, str]) -> None:
    """Set up Django in this process with the benchmark's environment."""
    os.environ.update(env)
    import django

    django.setup()


def prepare_targets(*, valid_for: float = 0) -> list[Target]:
    """The profile, share and trivial targets, with what they need found or made on the database.

    Needs Django set up. A live profile link on a whitelisted account: the first one there is, else
    the demo data's (`manage.py seed_demo`). A new API key with the scope shares:write for that
    account's organization (earlier benchmark keys are revoked), and shares for the account until
    its quota for the current hour is used up, so the share target is refused with 429 until the
    hour ends. When the hour ends within `valid_for` seconds (the length of the run to come), it
    waits for the next hour first, so that no share is granted during the run.
    """
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from accounts.scopes import Scope
    from integrations.models import ApiKey
    from integrations.services import api_key_issue, api_key_revoke
    from miniprograms.models import MiniProgramState, ProfileLink, ProfileLinkState
    from miniprograms.quota import WINDOW, window_start
    from miniprograms.services import ShareQuotaExceeded, share_record
    from whitelist.models import EntryState

    left = (window_start() + WINDOW - timezone.now()).total_seconds()
    if left < valid_for:
        print(
            f"The share quota's hour ends in {left:.0f} s, within the run; waiting for the next hour ...",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(left + 1)

    def live_link() -> ProfileLink | None:
        return (
            ProfileLink.objects.filter(
                state=ProfileLinkState.LIVE,
                miniprogram__state=MiniProgramState.ACTIVE,
                account__whitelist_entry__state=EntryState.ACTIVE,
                account__whitelist_entry__valid_until__gt=timezone.now(),
            )
            .select_related("miniprogram", "account__organization", "account__whitelist_entry")
            .order_by("id")
            .first()
        )

    def staff_user() -> User | None:
        return User.objects.filter(is_staff=True, is_active=True).order_by("id").first()

    link, staff = live_link(), staff_user()
    if link is None or staff is None:
        call_command("seed_demo", stdout=io.StringIO())
        link, staff = live_link(), staff_user()
    if link is None or staff is None:
        raise SystemExit("Found no live profile link or staff user, and `manage.py seed_demo` made none.")
    account, miniprogram = link.account, link.miniprogram

    for earlier in ApiKey.objects.filter(name=BENCH_API_KEY_NAME, revoked=False):
        api_key_revoke(actor=staff, key=earlier)
    key, secret = api_key_issue(
        actor=staff, name=BENCH_API_KEY_NAME, scopes=[Scope.SHARES_WRITE], organization=account.organization
    )
    limit = account.whitelist_entry.share_limit_per_hour
    for _share in range(limit + 1):
        try:
            share_record(actor=None, api_key=key, miniprogram=miniprogram, account=account)
        except ShareQuotaExceeded:
            break
    else:
        raise SystemExit(f"{limit + 1} shares for {account} were all granted; its quota is {limit} an hour.")

    return [
        Target(
            name="profile",
            method="GET",
            path=f"/api/v1/profiles/{quote(account.platform, safe='')}/{quote(account.platform_uid, safe='')}"
            "/miniprograms/",
        ),
        Target(
            name="share",
            method="POST",
            path=f"/api/v1/miniprograms/{miniprogram.pk}/shares/",
            headers={"Authorization": f"Api-Key {secret}", "Content-Type": "application/json"},
            body=f'{{"account": {account.pk}}}',
            expected_statuses=frozenset({429}),
        ),
        Target(name="trivial", method="GET", path="/bench/trivial/"),
    ]


# ---------------------------------------------------------------------------------------------
# Measuring and reporting


def request_once(target: Target, *, base_url: str) -> int:
    """Send the target's request once and return the status (to warm a cache, or to check a target)."""
    request = urllib.request.Request(  # noqa: S310 - our own http://127.0.0.1 URL
        base_url.rstrip("/") + target.path,
        data=target.body.encode() if target.body is not None else None,
        headers=dict(target.headers),
        method=target.method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def measure_http(
    env: Mapping[str, str],
    targets: Sequence[Target],
    *,
    duration: float = 15,
    rounds: int = 5,
    connections: int = 16,
    threads: int = 1,
    warmup: float = 2,
    workers: int | None = None,
) -> list[HttpResult]:
    """Start gunicorn with `env` and load the targets with wrk; one result per target, in their order.

    Each target is measured for `duration` seconds in all, in `rounds` rounds that take the targets in
    turn (profile, share, trivial, profile, ...), so a neighbour's load on a shared machine falls on
    all of them alike rather than on whichever ran at that moment; the rounds are merged by
    `merge_rounds`. Each target's first round is preceded by `warmup` seconds of load. Before any
    load each target is requested once, which fills the profile's cache and stops early
    (RuntimeError) on a target that answers a status it should not.
    """
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    wrk = ensure_wrk()
    seconds_per_round = max(1, round(duration / rounds))
    runs: dict[str, list[HttpResult]] = {target.name: [] for target in targets}
    if len(runs) != len(targets):
        raise ValueError("each target needs a name of its own")
    with gunicorn_server(env, workers=workers) as server:
        for target in targets:
            status = request_once(target, base_url=server.base_url)
            if status not in target.expected_statuses:
                raise RuntimeError(
                    f"{target.method} {target.path} ({target.name}) answered {status}, "
                    f"expected {sorted(target.expected_statuses)}"
                )
        for number in range(rounds):
            for target in targets:
                print(
                    f"  round {number + 1}/{rounds}, {target.name}: {target.method} {target.path} ...",
                    file=sys.stderr,
                    flush=True,
                )
                runs[target.name].append(
                    run_wrk(
                        target,
                        base_url=server.base_url,
                        duration=seconds_per_round,
                        connections=connections,
                        threads=threads,
                        warmup=warmup if number == 0 else 0,
                        wrk=wrk,
                        server_cpu=server.cpu_seconds,
                    )
                )
    return [merge_rounds(runs[target.name]) for target in targets]


def _ratio(value: float | None, reference: float | None) -> str:
    return f"{value / reference:.2f}" if value is not None and reference else "-"


def table(results: Sequence[HttpResult], *, reference: str = "trivial") -> str:
    """Side by side: throughput, latency percentiles, statuses, server CPU per request, and the ratios
    to `reference` (its requests per second over each one's; its CPU time per request over each one's,
    so that above 1 is better in both)."""
    baseline = next((result for result in results if result.name == reference), None)
    header = (
        "endpoint",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "statuses",
        "cpu ms/req",
        f"req/s vs {reference}",
        f"cpu vs {reference}",
    )
    lines = [
        (
            result.name,
            f"{result.requests_per_second:,.0f}",
            f"{result.p50_ms:.2f}",
            f"{result.p90_ms:.2f}",
            f"{result.p99_ms:.2f}",
            " ".join(f"{status}:{count:,}" for status, count in result.statuses.items()) or "-",
            f"{cpu:.2f}" if (cpu := result.server_cpu_ms_per_request) is not None else "-",
            _ratio(result.requests_per_second, baseline.requests_per_second if baseline else None),
            _ratio(
                baseline.server_cpu_ms_per_request if baseline else None, result.server_cpu_ms_per_request
            ),
        )
        for result in results
    ]
    from benchmarks.tables import text_table

    return text_table(header, lines)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=15, help="seconds measured per endpoint, in all (default 15)"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds the duration is split into (default 5)"
    )
    parser.add_argument("--warmup", type=float, default=2, help="seconds of load dropped first (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument(
        "--workers", type=int, default=None, help="gunicorn workers (default: the number of cores)"
    )
    arguments = parser.parse_args(argv)
    if arguments.rounds < 1 or arguments.duration < arguments.rounds:
        parser.error("--rounds must be at least 1, and --duration at least 1 second per round")
    if arguments.warmup < 0:
        parser.error("--warmup cannot be negative")
    if arguments.threads < 1 or arguments.connections < arguments.threads:
        parser.error("--threads must be at least 1 and --connections at least --threads")
    if arguments.workers is not None and arguments.workers < 1:
        parser.error("--workers must be at least 1")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        raise SystemExit(
            f"{' and '.join(missing)} must be set: a migrated PostgreSQL database and a Redis server, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench "
            "REDIS_URL=redis://127.0.0.1:6379/11 python benchmarks/http_load.py"
        )
    wrk = ensure_wrk()
    env = bench_environment(os.environ["DATABASE_URL"], os.environ["REDIS_URL"])
    setup_django(env)
    from django.db import connections

    # gunicorn's start, then for each target the warm-up and its rounds (a wrk run takes a little longer).
    run_seconds = 60 + 3 * (arguments.warmup + arguments.duration + 2 * arguments.rounds)
    targets = prepare_targets(valid_for=run_seconds)
    connections.close_all()  # the server's workers have the database to themselves
    results = measure_http(
        env,
        targets,
        duration=arguments.duration,
        rounds=arguments.rounds,
        connections=arguments.connections,
        threads=arguments.threads,
        warmup=arguments.warmup,
        workers=arguments.workers,
    )

    wrk_version = subprocess.run(  # noqa: S603 - wrk's own version line
        [wrk, "--version"], capture_output=True, text=True, check=False
    ).stdout.split(" [")[0]
    print()
    print(
        f"gunicorn, {arguments.workers or os.cpu_count()} sync workers, settings {SETTINGS_MODULE}; "
        f"{wrk_version}, {arguments.threads} thread(s), {arguments.connections} connections, "
        f"{arguments.duration:.0f} s per endpoint in {arguments.rounds} interleaved round(s), "
        f"after {arguments.warmup:.0f} s of warm-up; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs"
    )
    print()
    print(table(results))
    print()
    for target in targets:
        print(f"{target.name}: {target.method} {target.path}")
    print(
        "p50/p90/p99: the median over the rounds. cpu ms/req: CPU time of gunicorn's processes per "
        "request (not Redis's or PostgreSQL's), steadier than req/s when the machine is shared."
    )

    problems = [problem for result in results for problem in result.problems]
    by_name = {result.name: result for result in results}
    profile, trivial = by_name["profile"], by_name["trivial"]
    ratio = profile.requests_per_second / trivial.requests_per_second if trivial.requests_per_second else 0.0
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"\nTarget: profile at {TARGET_RATIO:.2f} or more of trivial's req/s: {ratio:.2f}, {verdict}.")
    if ratio < TARGET_RATIO:
        problems.append(f"profile at {ratio:.2f} of the trivial endpoint's req/s, below {TARGET_RATIO:.2f}")
    for problem in problems:
        print(f"UNEXPECTED {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
