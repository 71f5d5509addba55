"""Views shared by the whole portal: the health check and the server error page."""

import logging
import sys
import threading

import redis
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_GET

from .errors import DATABASE_LOST
from .middleware import database_unavailable_response

logger = logging.getLogger(__name__)

# Short, so that a hanging Redis cannot hold the health check past a load balancer's own timeout.
REDIS_TIMEOUT = 0.5


# The database's answer to the health check, however it hangs: in connecting (a server that accepts
# TCP and never answers; libpq's connect_timeout cannot be under 2 s) or in the query.
DATABASE_TIMEOUT = 1.0


def _database_probe(outcome: dict[str, str]) -> None:
    """SELECT 1 on a connection of this thread's own, closed after."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL statement_timeout = %s", [int(DATABASE_TIMEOUT * 1000)])
            cursor.execute("SELECT 1")
            cursor.fetchone()
        outcome["state"] = "ok"
    except Exception as exc:
        logger.warning("Health check: database unreachable: %s", exc)
        outcome["state"] = "error"
    finally:
        connection.close()


def _database_state() -> str:
    # In a thread, so that the answer comes within DATABASE_TIMEOUT whatever the database does; a
    # hanging probe ends by itself within DATABASE_CONNECT_TIMEOUT.
    outcome: dict[str, str] = {}
    probe = threading.Thread(target=_database_probe, args=(outcome,), name="healthz-database", daemon=True)
    probe.start()
    probe.join(DATABASE_TIMEOUT)
    if probe.is_alive():
        logger.warning("Health check: the database did not answer within %s s", DATABASE_TIMEOUT)
        return "error"
    return outcome.get("state", "error")


def _redis_state() -> str:
    if not settings.REDIS_URL:
        return "disabled"
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        logger.warning("Health check: Redis unreachable: %s", exc)
        return "error"
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 "ok"; 200 "degraded" when only Redis is away (the site still serves); 503 without the database.

    A load balancer keeps a degraded instance: pages, the admin and the API answer from the database,
    and only the cache, throttles and Celery's queue wait for Redis. Without the database nothing works.
    """
    checks = {"database": _database_state(), "redis": _redis_state()}
    if checks["database"] != "ok":
        status, code = "error", 503
    elif checks["redis"] == "error":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JsonResponse({"status": status, **checks}, status=code)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a lost database that no view could answer for (e.g. in a middleware's session or
    user lookup) is a 503 with Retry-After; anything else Django's 500 page."""
    if isinstance(sys.exc_info()[1], DATABASE_LOST):
        return database_unavailable_response(request)
    return defaults.server_error(request)
