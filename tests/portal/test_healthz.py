"""The health check reports the database and Redis."""

import pytest


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
def test_healthz__redis_configured_but_down__is_503(client, settings):
    # Nothing listens on port 1 of the loopback address.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "redis": "error"}
