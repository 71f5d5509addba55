"""The database goes away: a 503 with Retry-After in the error format (never a 500), a read retried
once on a new connection, and a health check that answers within a second when the database hangs."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import OfficialAccount

PROBLEM = "application/problem+json"


@contextmanager
def database_at(host: str, port: int) -> Iterator[None]:
    """Point the site's database connections (every thread's) somewhere else for the block."""
    connection.close()
    saved = dict(connection.settings_dict)
    connection.settings_dict.update(HOST=host, PORT=str(port))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def assert_503_problem(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["status"] == 503 and body["type"] == "urn:portal:problem:database-unavailable"


# The database is down


@pytest.mark.django_db(transaction=True)
def test_api__database_down__get_and_post_are_503_problems_with_retry_after(postgres, merchant):
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)  # the token lookup needs the database
    with database_at("127.0.0.1", 1):
        read = token_client.get("/api/v1/accounts/")
        write = token_client.post("/api/v1/accounts/", {"platform": "weibo"}, format="json")
    assert_503_problem(read)
    assert_503_problem(write)


@pytest.mark.django_db(transaction=True)
def test_web_page__database_down__is_a_503_page_not_a_500(postgres, merchant):
    # Given a signed-in merchant (the session and the user are read in middleware, before any view)
    client = Client(raise_request_exception=False)
    client.force_login(merchant)
    with database_at("127.0.0.1", 1):
        response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/html")
    assert b"briefly unavailable" in response.content


# The connection is lost under a request


@pytest.fixture
def connection_killed_at_first_query() -> Iterator[list[int]]:
    """The server terminates the request's database backend just before its first query (as
    pg_terminate_backend or a failover does); returns the pids killed."""
    killed: list[int] = []
    params = connection.settings_dict

    def kill_once(execute: Callable[..., Any], sql: str, params_: Any, many: bool, context: Any) -> Any:
        if not killed:
            pid = connection.connection.info.backend_pid
            killed.append(pid)
            with psycopg.connect(
                host=params["HOST"] or None,
                port=params["PORT"] or None,
                user=params["USER"] or None,
                password=params["PASSWORD"] or None,
                dbname=params["NAME"],
                autocommit=True,
            ) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
                deadline = time.monotonic() + 5
                while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                    assert time.monotonic() < deadline, "the backend did not end"
                    time.sleep(0.02)
        return execute(sql, params_, many, context)

    connection.close()  # the request opens its own connection, which the wrapper sees
    with connection.execute_wrapper(kill_once):
        yield killed
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_api_read__connection_lost_once__is_retried_on_a_new_connection_and_200(
    postgres, merchant, account, connection_killed_at_first_query
):
    client = APIClient()
    client.force_authenticate(merchant)
    response = client.get("/api/v1/accounts/")
    assert len(connection_killed_at_first_query) == 1
    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [account.pk]


@pytest.mark.django_db(transaction=True)
def test_api_write__connection_lost__is_503_not_retried_and_nothing_written(
    postgres, merchant, organization, connection_killed_at_first_query
):
    client = APIClient()
    client.force_authenticate(merchant)
    body = {"organization": organization.pk, "platform": "weibo", "platform_uid": "9100000001"}
    response = client.post("/api/v1/accounts/", {**body, "screen_name": "Lost"}, format="json")
    assert_503_problem(response)
    assert len(connection_killed_at_first_query) == 1
    connection.close()  # what the end of a request does with a broken connection (the test client does not)
    assert not OfficialAccount.objects.filter(platform_uid="9100000001").exists()


# A database that accepts connections and never answers


@pytest.fixture
def silent_database() -> Iterator[int]:
    """A TCP server on a free port that accepts connections and never says a word; its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                client, _address = listener.accept()
                accepted.append(client)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for client in accepted:
        client.close()
    listener.close()


@pytest.mark.django_db(transaction=True)
def test_healthz__database_accepts_and_never_answers__503_within_about_a_second(
    postgres, settings, silent_database
):
    settings.REDIS_URL = ""
    with database_at("127.0.0.1", silent_database):
        started = time.monotonic()
        response = Client().get("/healthz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error", "redis": "disabled"}
    assert elapsed < 1.5, elapsed


@pytest.mark.django_db
def test_database_connections__carry_the_connect_and_statement_timeouts(postgres, settings):
    assert connection.settings_dict["OPTIONS"]["connect_timeout"] == settings.DATABASE_CONNECT_TIMEOUT == 5
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("30s",)
