"""wrk, the load generator of the HTTP benchmark: its Lua script per target, its runs and its figures."""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

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
