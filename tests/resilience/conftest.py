"""A Redis server of the test's own, on a free port, that the test stops, hangs and starts again.

The project's caches, REDIS_URL (the share quota, the health check) and the Celery broker point at
it for the test, so stopping it is Redis going down for the whole site, not a setting that lies.
"""

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu.pools
import pytest
import redis
from celery import Celery
from django.conf import settings
from django.test import override_settings

from portal.cache import ResilientRedisCache
from tests.conftest import service_unavailable

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server process: no persistence, so a restart starts empty, as after a crash."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self._backlog_fillers: list[socket.socket] = []

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                # Small, so that hang() can fill the queue of unaccepted connections.
                "--tcp-backlog", "16",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.5)
                client.ping()
                client.close()
                break
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
        ResilientRedisCache.forget_failures()

    def stop(self) -> None:
        """Shut the server down without saving: connections are refused from now on."""
        if self.process is None:
            return
        self.resume()
        try:
            redis.Redis.from_url(self.url, socket_timeout=2).shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        except redis.RedisError:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def hang(self) -> None:
        """Freeze the server and fill its accept queue: reads on open connections time out, and so
        does connecting (the kernel drops new SYNs), as with a Redis that hangs or a lost network."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        for _attempt in range(256):
            filler = socket.socket()
            filler.settimeout(0.2)
            try:
                filler.connect(("127.0.0.1", self.port))
            except OSError:
                filler.close()
                return
            self._backlog_fillers.append(filler)
        raise RuntimeError("the accept queue of the frozen redis-server never filled")

    def resume(self) -> None:
        for filler in self._backlog_fillers:
            filler.close()
        self._backlog_fillers.clear()
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            ResilientRedisCache.forget_failures()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running redis-server of this test only; the test may stop(), hang(), resume() and start() it."""
    binary = shutil.which("redis-server") or shutil.which(REDIS_SERVER)
    if binary is None:
        service_unavailable("redis-server is not installed")
    assert binary is not None
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def caches_on(url: str) -> dict[str, dict[str, Any]]:
    """The project's CACHES as the settings make them from REDIS_URL, with Redis at this URL."""
    options = dict(settings.REDIS_CACHE_OPTIONS)
    return {
        alias: {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"resilience-{alias}",
            "OPTIONS": options,
        }
        for alias in ("default", "throttle")
    }


@pytest.fixture
def site_on_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The caches, REDIS_URL, the share quota and the health check on the test's own Redis."""
    from miniprograms.quota import _redis_client

    assert settings.REDIS_CACHE_OPTIONS["socket_timeout"] <= 0.5
    with override_settings(
        REDIS_URL=redis_server.url, SHARE_QUOTA_BACKEND="auto", CACHES=caches_on(redis_server.url)
    ):
        _redis_client.cache_clear()
        try:
            yield redis_server
        finally:
            _redis_client.cache_clear()
            ResilientRedisCache.forget_failures()


def _drop_broker_connections(app: Celery) -> None:
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    kombu.pools.reset()
    # The result backend is made once per thread from result_backend; make it again from the new one.
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def celery_on_own_redis(site_on_redis: RedisServer) -> Iterator[Celery]:
    """The project's Celery app, not eager, publishing to the test's Redis, with no worker yet."""
    from portal.celery import app

    keys = ("task_always_eager", "broker_url", "result_backend")
    saved = {key: app.conf[key] for key in keys}
    _drop_broker_connections(app)
    app.conf.update(task_always_eager=False, broker_url=site_on_redis.url, result_backend=site_on_redis.url)
    try:
        yield app
    finally:
        app.conf.update(saved)
        _drop_broker_connections(app)


@pytest.fixture
def live_link(merchant, organization, staff, policy):  # type: ignore[no-untyped-def]
    """A whitelisted account of the merchant showing a live mini program, made through the services."""
    from miniprograms import services
    from tests.miniprograms.conftest import whitelisted

    account = whitelisted(
        owner=merchant, organization=organization, reviewer=staff, platform_uid="9100000001"
    )
    miniprogram = services.miniprogram_create(
        actor=merchant,
        organization=organization,
        app_id="2021000000000777",
        name="Burger Order",
        category="business",
        capabilities=["payment"],
    )
    link = services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=account)
    return services.profile_link_approve(actor=staff, link=link)
