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
import contextlib
import io
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

SETTINGS_MODULE = "benchmarks.settings"
HOST = "127.0.0.1"
HEALTH_PATH = "/healthz"
TARGET_RATIO = 0.8  # the profile's requests per second over the trivial endpoint's
# Far above what one machine serves: the throttles count (portal/throttling.py) but never refuse.
UNLIMITED_RATE = "1000000/second"
THROTTLE_RATE_VARIABLES = ("API_KEY_RATE", "API_ANON_RATE", "API_IP_RATE", "PROFILE_RATE", "API_USER_RATE")
BENCH_API_KEY_NAME = "HTTP benchmark"
STATUS_LINE_PREFIX = "status-count"  # the lines the generated wrk script prints, one per status code


# ---------------------------------------------------------------------------------------------
# wrk


def ensure_wrk() -> str:
    """The path of wrk; installed with apt-get (Debian package `wrk`) when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    apt_get = shutil.which("apt-get")
    if apt_get is None or os.geteuid() != 0:
        raise SystemExit(
            "wrk is not installed. Install it, e.g. `sudo apt-get install wrk` (Debian, Ubuntu) or "
            "`brew install wrk` (macOS), and run the benchmark again."
        )
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - apt-get from PATH, fixed arguments
            [apt_get, *arguments], env=environment, capture_output=True, text=True, timeout=600, check=False
        )

    print("wrk is missing; installing it with apt-get ...", file=sys.stderr, flush=True)
    installed = apt("install", "-y", "-qq", "wrk")
    if installed.returncode != 0:
        # A fresh container has no package lists yet.
        apt("update", "-qq")
        installed = apt("install", "-y", "-qq", "wrk")
    found = shutil.which("wrk")
    if installed.returncode != 0 or found is None:
        raise SystemExit(
            f"Could not install wrk (`apt-get install -y wrk`):\n{installed.stdout}{installed.stderr}"
        )
    return found


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint under load: the request wrk repeats and the statuses it may answer."""

    name: str
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    expected_statuses: frozenset[int] = frozenset({200})


def lua_string(text: str) -> str:
    """A Lua string literal of `text`: printable ASCII as it is, every other byte as a decimal escape."""
    out = []
    for byte in text.encode("utf-8"):
        character = chr(byte)
        if character in '"\\':
            out.append("\\" + character)
        elif 0x20 <= byte < 0x7F:
            out.append(character)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def wrk_script(target: Target) -> str:
    """A wrk script that sends the target's request and prints the responses per status code.

    Each wrk thread counts in its own Lua state; `done` sums the threads' tables (kept by `setup`)
    and prints one `status-count <status> <count>` line per status.
    """
    lines = [f"wrk.method = {lua_string(target.method)}"]
    for name, value in target.headers.items():
        lines.append(f"wrk.headers[{lua_string(name)}] = {lua_string(value)}")
    if target.body is not None:
        lines.append(f"wrk.body = {lua_string(target.body)}")
    lines.append(
        f"""
local threads = {{}}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   statuses = {{}}
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local totals = {{}}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses") or {{}}) do
         totals[status] = (totals[status] or 0) + count
      end
   end
   for status, count in pairs(totals) do
      io.write(string.format("{STATUS_LINE_PREFIX} %d %d\\n", status, count))
   end
end
"""
    )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class HttpResult:
    """One target's run: throughput, latency percentiles, what the responses were, the server's CPU time.

    `server_cpu_seconds` is the CPU time gunicorn's processes spent in the measured run (None when it
    could not be read): unlike requests per second, its share per request hardly depends on what
    else the machine is running. `rounds` > 1 is a merge of interleaved runs (see `merge_rounds`).
    """

    name: str
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    duration_seconds: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    expected_statuses: frozenset[int]
    server_cpu_seconds: float | None = None
    rounds: int = 1

    @property
    def server_cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_seconds is None or not self.requests:
            return None
        return self.server_cpu_seconds * 1000 / self.requests

    @property
    def unexpected_statuses(self) -> dict[int, int]:
        return {
            status: count for status, count in self.statuses.items() if status not in self.expected_statuses
        }

    @property
    def problems(self) -> list[str]:
        """What went wrong: unexpected statuses, socket errors, no response at all; empty when nothing."""
        problems = []
        unexpected = self.unexpected_statuses
        if unexpected:
            expected = ", ".join(str(status) for status in sorted(self.expected_statuses))
            got = ", ".join(f"{count:,} x {status}" for status, count in sorted(unexpected.items()))
            problems.append(f"{self.name}: {got} (expected only {expected})")
        failed = {kind: count for kind, count in self.socket_errors.items() if count}
        if failed:
            problems.append(
                f"{self.name}: socket errors "
                + ", ".join(f"{kind} {count:,}" for kind, count in failed.items())
            )
        if not self.statuses:
            problems.append(f"{self.name}: no responses")
        return problems


WRK_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(\d+(?:\.\d+)?)(us|ms|s|m|h)\s*$")
_REQUESTS = re.compile(r"^\s*(\d+) requests in (\d+(?:\.\d+)?)(us|ms|s|m|h),")
_RATE = re.compile(r"^Requests/sec:\s+(\d+(?:\.\d+)?)\s*$")
_SOCKET_ERRORS = re.compile(r"^\s*Socket errors: (.*)$")
_STATUS_COUNT = re.compile(rf"^{STATUS_LINE_PREFIX} (\d+) (\d+)\s*$")


def parse_wrk_output(text: str, *, target: Target) -> HttpResult:
    """Read `wrk --latency` output, with the generated script's status lines, into a result."""
    percentiles: dict[float, float] = {}
    statuses: dict[int, int] = {}
    socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    requests: int | None = None
    duration = rate = None
    for line in text.splitlines():
        if match := _PERCENTILE.match(line):
            percentiles[float(match[1])] = float(match[2]) * WRK_TIME_UNITS_MS[match[3]]
        elif match := _REQUESTS.match(line):
            requests = int(match[1])
            duration = float(match[2]) * WRK_TIME_UNITS_MS[match[3]] / 1000
        elif match := _RATE.match(line):
            rate = float(match[1])
        elif match := _SOCKET_ERRORS.match(line):
            for part in match[1].split(","):
                kind, _, count = part.strip().partition(" ")
                socket_errors[kind] = int(count)
        elif match := _STATUS_COUNT.match(line):
            statuses[int(match[1])] = statuses.get(int(match[1]), 0) + int(match[2])
    missing = [percentile for percentile in (50.0, 90.0, 99.0) if percentile not in percentiles]
    if requests is None or duration is None or rate is None or missing:
        raise ValueError(f"Not the output of `wrk --latency` with the generated script:\n{text}")
    return HttpResult(
        name=target.name,
        requests_per_second=rate,
        p50_ms=percentiles[50.0],
        p90_ms=percentiles[90.0],
        p99_ms=percentiles[99.0],
        requests=requests,
        duration_seconds=duration,
        statuses=dict(sorted(statuses.items())),
        socket_errors=socket_errors,
        expected_statuses=target.expected_statuses,
    )


def run_wrk(
    target: Target,
    *,
    base_url: str,
    duration: float = 10,
    connections: int = 16,
    threads: int = 1,
    warmup: float = 2,
    timeout: float = 5,
    wrk: str | None = None,
    server_cpu: Callable[[], float | None] | None = None,
) -> HttpResult:
    """Load one target with wrk for `duration` seconds, after `warmup` seconds whose figures are dropped.

    One wrk thread leaves the other core to the server on a two-core machine; 16 connections keep
    every gunicorn worker busy. A request slower than `timeout` seconds counts as a socket timeout.
    `server_cpu`, the server's CPU seconds so far (`Server.cpu_seconds`), is read around the measured run.
    """
    if connections < threads:
        raise ValueError("wrk needs at least one connection per thread")
    wrk = wrk or ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="http-load-") as directory:
        script = Path(directory) / f"{re.sub(r'[^A-Za-z0-9_-]', '_', target.name)}.lua"
        script.write_text(wrk_script(target), encoding="utf-8")

        def wrk_for(seconds: float) -> str:
            command = [
                wrk,
                f"--threads={threads}",
                f"--connections={connections}",
                f"--duration={max(1, round(seconds))}s",
                f"--timeout={max(1, round(timeout))}s",
                "--latency",
                f"--script={script}",
                base_url.rstrip("/") + target.path,
            ]
            try:
                completed = subprocess.run(  # noqa: S603 - wrk with our own arguments
                    command, capture_output=True, text=True, timeout=seconds + timeout + 30, check=False
                )
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"wrk on {target.name} did not finish; stopped it.") from None
            if completed.returncode != 0:
                raise RuntimeError(f"wrk on {target.name} failed:\n{completed.stdout}{completed.stderr}")
            return completed.stdout

        if warmup > 0:
            wrk_for(warmup)
        cpu_before = server_cpu() if server_cpu is not None else None
        result = parse_wrk_output(wrk_for(duration), target=target)
        cpu_after = server_cpu() if server_cpu is not None else None
    if cpu_before is not None and cpu_after is not None:
        result = replace(result, server_cpu_seconds=cpu_after - cpu_before)
    return result


def merge_rounds(results: Sequence[HttpResult]) -> HttpResult:
    """One result of several runs of a target: counts and times summed, percentiles the rounds' median.

    Requests per second is all requests over all measured seconds. A percentile of the whole cannot be
    had from the rounds' percentiles; their median stands for it, and a round slowed by a neighbour's
    load does not decide it.
    """
    if not results or len({result.name for result in results}) != 1:
        raise ValueError("merge_rounds takes one or more results of the same target")
    if len(results) == 1:
        return results[0]
    requests = sum(result.requests for result in results)
    duration = sum(result.duration_seconds for result in results)
    statuses: dict[int, int] = {}
    socket_errors: dict[str, int] = {}
    for result in results:
        for status, count in result.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
        for kind, count in result.socket_errors.items():
            socket_errors[kind] = socket_errors.get(kind, 0) + count
    cpu = [result.server_cpu_seconds for result in results]
    return HttpResult(
        name=results[0].name,
        requests_per_second=requests / duration if duration else 0.0,
        p50_ms=statistics.median(result.p50_ms for result in results),
        p90_ms=statistics.median(result.p90_ms for result in results),
        p99_ms=statistics.median(result.p99_ms for result in results),
        requests=requests,
        duration_seconds=duration,
        statuses=dict(sorted(statuses.items())),
        socket_errors=socket_errors,
        expected_statuses=results[0].expected_statuses,
        server_cpu_seconds=None if None in cpu else sum(value for value in cpu if value is not None),
        rounds=sum(result.rounds for result in results),
    )


# ---------------------------------------------------------------------------------------------
# gunicorn


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    pid: int
    workers: int

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by the master and its workers (Linux /proc), None where unreadable."""
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
            total = 0
            for pid in [self.pid, *(int(child) for child in children)]:
                # Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            return None
        return total / os.sysconf("SC_CLK_TCK")


def free_port(host: str = HOST) -> int:
    """A port nothing listens on now (the OS's choice); gunicorn binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http://127.0.0.1 URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def gunicorn_server(
    env: Mapping[str, str], *, workers: int | None = None, start_timeout: float = 60
) -> Iterator[Server]:
    """gunicorn serving `portal.wsgi` on a free loopback port, with `env` over this process's environment.

    Sync workers (not gunicorn.conf.py's gthread: the figures stay comparable), one per core unless
    `workers` says otherwise; the access log to /dev/null. Yields once `GET /healthz` answers 200;
    stops the server at the end.
    """
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        raise SystemExit(f"gunicorn is not installed next to {sys.executable}; install requirements.txt.")
    workers = workers or os.cpu_count() or 1
    port = free_port()
    command = [
        str(gunicorn),
        "portal.wsgi",
        f"--bind={HOST}:{port}",
        f"--workers={workers}",
        f"--chdir={PROJECT_DIR}",
        "--log-level=warning",
        "--error-logfile=-",
        "--graceful-timeout=5",
        # gunicorn reads the project's gunicorn.conf.py (gthread, access log) from the working
        # directory; the figures of docs/benchmarks.md are of sync workers without an access log,
        # and stay comparable so.
        "--worker-class=sync",
        "--threads=1",
        "--access-logfile=/dev/null",
    ]
    with tempfile.TemporaryDirectory(prefix="http-load-gunicorn-") as directory:
        log = Path(directory) / "stderr.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(  # noqa: S603 - the venv's gunicorn, our own arguments
                command,
                cwd=PROJECT_DIR,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group, killed whole if the master hangs
            )
        try:
            base_url = f"http://{HOST}:{port}"
            deadline = time.monotonic() + start_timeout
            while not _answers(base_url + HEALTH_PATH):
                if process.poll() is not None:
                    raise RuntimeError(
                        f"gunicorn exited with status {process.returncode} before answering:\n{_tail(log)}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"gunicorn did not answer {HEALTH_PATH} within {start_timeout:.0f} s:\n{_tail(log)}"
                    )
                time.sleep(0.2)
            yield Server(base_url=base_url, pid=process.pid, workers=workers)
        finally:
            _stop(process)


def _stop(process: "subprocess.Popen[bytes]") -> None:
    """TERM to gunicorn's master (it stops its workers); KILL to its process group if it lingers."""
    if process.poll() is not None:
        return  # its workers notice that the master is gone and exit
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        # Not yet reaped, so the group is still the one started here.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


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
