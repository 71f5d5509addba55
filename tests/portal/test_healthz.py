"""The health check: 200 "ok", 200 "degraded" without Redis, 503 "error" without the database."""

import pytest
from django.db import connection


@pytest.mark.django_db
def test_healthz__database_up_redis_disabled__is_200(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "disabled"}


@pytest.mark.django_db
def test_healthz__redis_configured_and_up__is_200(client, settings, redis_url):
    settings.REDIS_URL = redis_url
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["redis"] == "ok"


@pytest.mark.django_db
def test_healthz__redis_configured_but_down__is_200_degraded(client, settings):
    # Nothing listens on port 1 of the loopback address. The site still serves, so the load balancer
    # must keep the instance (tests/resilience stops a real Redis).
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "redis": "error"}


@pytest.mark.django_db(transaction=True)
def test_healthz__database_down__is_503(postgres, client, settings):
    settings.REDIS_URL = ""
    # The database stops answering: nothing listens where the connection now points.
    connection.close()
    saved = dict(connection.settings_dict)
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error", "redis": "disabled"}
