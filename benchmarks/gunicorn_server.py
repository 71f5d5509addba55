"""gunicorn for the HTTP benchmarks: a server on a free loopback port, its CPU time, and its stop."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks.processes import PROJECT_DIR

HOST = "127.0.0.1"
HEALTH_PATH = "/healthz"

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
