"""gunicorn with the committed gunicorn.conf.py keeps serving while many clients hold idle connections."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.resilience.conftest import free_port

PROJECT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def healthz(port: int, *, timeout: float) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[int]:
    """gunicorn serving the portal with gunicorn.conf.py (two workers) on a free port; its port."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        # /healthz only asks the database for SELECT 1: a fresh SQLite file serves.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "DJANGO_READ_DOT_ENV": "false",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "portal.wsgi",
            "--config",
            "gunicorn.conf.py",
            f"--bind=127.0.0.1:{port}",
            "--workers=2",
        ],
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if healthz(port, timeout=2) == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("gunicorn did not start:\n" + (tmp_path / "gunicorn.log").read_text()[-3000:])
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_gunicorn__50_idle_connections__healthz_still_answers_within_a_second(gunicorn):
    # Given 50 clients that connected and send nothing (with sync workers, two of them held both)
    idle = [socket.create_connection(("127.0.0.1", gunicorn), timeout=5) for _ in range(50)]
    try:
        time.sleep(0.5)  # every worker has accepted what it will
        # When another client asks for the health check, three times
        for _ in range(3):
            started = time.monotonic()
            status = healthz(gunicorn, timeout=5)
            elapsed = time.monotonic() - started
            # Then each answer comes within a second
            assert status == 200
            assert elapsed < 1.0, f"/healthz took {elapsed:.2f} s behind 50 idle connections"
    finally:
        for connection in idle:
            connection.close()


def test_gunicorn_conf__is_the_one_make_docker_and_compose_use():
    assert "--config gunicorn.conf.py" in (PROJECT / "Makefile").read_text()
    assert '"--config", "gunicorn.conf.py"' in (PROJECT / "Dockerfile").read_text()
    assert '"--config", "gunicorn.conf.py"' in (PROJECT / "docker-compose.yml").read_text()
