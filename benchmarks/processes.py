"""The benchmarks' child processes: manage.py under our own interpreter, and a command, failing loudly."""

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
MANAGE_PY = PROJECT_DIR / "manage.py"


def manage_command(*arguments: str) -> list[str]:
    """The command line of manage.py with these arguments, under the interpreter running the benchmark."""
    return [sys.executable, str(MANAGE_PY), *arguments]


def run(
    command: Sequence[str], *, env: Mapping[str, str], timeout: float, capture_output: bool = True
) -> "subprocess.CompletedProcess[str]":
    """Run a command in the project folder; its status is the caller's to read (check=False)."""
    return subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        list(command),
        cwd=PROJECT_DIR,
        env=dict(env),
        capture_output=capture_output,
        text=True,
        timeout=timeout,
        check=False,
    )


def manage(*arguments: str, env: Mapping[str, str], timeout: float, capture_output: bool = False) -> str:
    """Run manage.py; SystemExit when it overruns the timeout or fails. Returns its output when captured.

    Not captured, its output passes through (the seed prints its progress) and a failure names the
    status; captured, a failure shows what it printed.
    """
    try:
        completed = run(manage_command(*arguments), env=env, timeout=timeout, capture_output=capture_output)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"manage.py {arguments[0]} took more than {timeout:.0f} s; stopped it.") from None
    if completed.returncode != 0:
        if capture_output:
            raise SystemExit(f"manage.py {arguments[0]} failed:\n{completed.stdout}{completed.stderr}")
        raise SystemExit(f"manage.py {' '.join(arguments)} failed with status {completed.returncode}.")
    return completed.stdout or ""
