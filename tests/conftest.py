"""Shared fixtures: clients, merchants, staff, accounts, and the service guards."""

import importlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import kombu.pools
import pytest
import redis
from celery import Celery
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import MembershipRole
from accounts.services import membership_add
from tests import factories

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") in ("1", "true", "yes")


def service_unavailable(reason: str) -> None:
    """Skip a service-backed test, or fail it when the run requires its services."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_sessionstart(session: pytest.Session) -> None:
    if REQUIRE_SERVICES and not os.environ.get("DATABASE_URL", "").startswith(("postgres", "pgsql")):
        raise pytest.UsageError("REQUIRE_SERVICES=1 needs DATABASE_URL pointing at PostgreSQL")
    if REQUIRE_SERVICES and not os.environ.get("REDIS_URL"):
        raise pytest.UsageError("REQUIRE_SERVICES=1 needs REDIS_URL pointing at Redis")


@pytest.fixture(autouse=True)
def _fresh_throttle_counters() -> Iterator[None]:
    """Each test starts with unspent API rate budgets (the whole suite comes from one address)."""
    throttle_cache = caches["throttle"]
    prefix = settings.CACHES["throttle"].get("KEY_PREFIX", "")
    if prefix and hasattr(throttle_cache, "_cache"):
        client = throttle_cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        throttle_cache.clear()
    yield


@pytest.fixture
def postgres(db: None) -> None:
    """For tests whose claim only holds on PostgreSQL (row locks, real concurrency)."""
    if connection.vendor != "postgresql":
        service_unavailable("DATABASE_URL does not point at PostgreSQL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = settings.REDIS_URL
    if not url:
        service_unavailable("REDIS_URL is not set")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        service_unavailable(f"Redis at {url} is unreachable: {exc}")
    return url


@pytest.fixture
def celery_on_redis(redis_url: str) -> Iterator[Celery]:
    """The project's own Celery app publishing to Redis, not eager, with an empty queue and no worker.

    Tasks are bound to the project's app, so a worker must run that app: a separate test app
    would leave them running eagerly and prove nothing about the broker.
    """
    from portal.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "result_backend")}
    app.conf.update(task_always_eager=False, broker_url=redis_url, result_backend=redis_url)
    app.control.purge()
    try:
        yield app
    finally:
        app.control.purge()
        app.conf.update(saved)


def start_celery_worker(app: Celery) -> AbstractContextManager[object]:
    """A real worker thread for the app, consuming from its broker."""
    from celery.contrib.testing.worker import start_worker

    return start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20)


@pytest.fixture
def live_celery_worker(celery_on_redis: Celery) -> Iterator[Celery]:
    """The project's Celery app, not eager, with a real worker consuming from Redis."""
    with start_celery_worker(celery_on_redis):
        yield celery_on_redis


@pytest.fixture
def unreachable_broker() -> Iterator[Celery]:
    """The project's Celery app publishing to a broker where nothing listens (port 1 of loopback)."""
    from portal.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "task_publish_retry")}
    app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0", task_publish_retry=False)
    app.pool.force_close_all()
    yield app
    app.conf.update(saved)
    # force_close_all leaves the pools closed for the session; drop them so the next use builds new ones.
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    kombu.pools.reset()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def staff(db: None):  # type: ignore[no-untyped-def]
    return factories.StaffUserFactory(username="reviewer")


@pytest.fixture
def merchant_and_org(db: None):  # type: ignore[no-untyped-def]
    return factories.merchant_register("alice", organization_name="Alice Foods Co")


@pytest.fixture
def merchant(merchant_and_org):  # type: ignore[no-untyped-def]
    return merchant_and_org[0]


@pytest.fixture
def organization(merchant_and_org):  # type: ignore[no-untyped-def]
    return merchant_and_org[1]


@pytest.fixture
def other_merchant_and_org(db: None):  # type: ignore[no-untyped-def]
    return factories.merchant_register("bob", organization_name="Bob Retail Ltd")


@pytest.fixture
def other_merchant(other_merchant_and_org):  # type: ignore[no-untyped-def]
    return other_merchant_and_org[0]


@pytest.fixture
def account(merchant, organization):  # type: ignore[no-untyped-def]
    return factories.official_account(
        actor=merchant, organization=organization, platform_uid="1000000001", screen_name="Alice Foods"
    )


@pytest.fixture
def other_account(other_merchant_and_org):  # type: ignore[no-untyped-def]
    user, organization = other_merchant_and_org
    return factories.official_account(
        actor=user, organization=organization, platform_uid="2000000001", screen_name="Bob Retail"
    )


@pytest.fixture
def merchant_client(api_client: APIClient, merchant) -> Iterator[APIClient]:  # type: ignore[no-untyped-def]
    api_client.force_authenticate(merchant)
    yield api_client
    api_client.force_authenticate(None)


@pytest.fixture
def staff_client(staff) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(staff)
    return client


# The data migration is the one source of policy v1 and of the first reason codes.
policy_migration = importlib.import_module("whitelist.migrations.0002_policy_v1_and_reason_codes")


@pytest.fixture
def policy(db: None):  # type: ignore[no-untyped-def]
    """Active policy v1 as the data migration makes it; recreated when a transactional test flushed it."""
    from whitelist.models import CriteriaPolicy

    policy, created = CriteriaPolicy.objects.get_or_create(
        version=1,
        defaults={
            "is_active": True,
            "activated_at": timezone.now(),
            "required_criteria": policy_migration.CRITERIA,
            "notes": "Initial policy: the programme opens to administration and commerce.",
        },
    )
    if created:
        policy.open_verticals.set([factories.vertical(code) for code in policy_migration.OPEN_VERTICALS])
    assert policy.is_active
    return policy


@pytest.fixture
def second_reviewer(db: None):  # type: ignore[no-untyped-def]
    return factories.StaffUserFactory(username="second_reviewer")


@pytest.fixture
def org_admin(merchant, organization):  # type: ignore[no-untyped-def]
    user, _ = factories.merchant_register("dora")
    membership_add(actor=merchant, organization=organization, user=user, role=MembershipRole.ADMIN)
    return user


@pytest.fixture
def plain_member(merchant, organization):  # type: ignore[no-untyped-def]
    user, _ = factories.merchant_register("carl")
    membership_add(actor=merchant, organization=organization, user=user, role=MembershipRole.MEMBER)
    return user
