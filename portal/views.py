"""Views shared by the whole portal: the health check."""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

# Short, so that a hanging Redis cannot hold the health check past a load balancer's own timeout.
REDIS_TIMEOUT = 0.5


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("Health check: database unreachable: %s", exc)
        return "error"
    return "ok"


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
