"""Redis down (stopped: refused; hung: timeouts): pages, the admin, the profile, shares and /healthz."""

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from miniprograms import services
from miniprograms.models import Share
from portal.cache import ResilientRedisCache
from portal.throttling import PrincipalScopedRateThrottle
from tests import factories

# The cache's socket timeouts are 0.25 s and the quota's 0.5 s; a request pays at most one of each.
REQUEST_BOUND_SECONDS = 1.5


def profile_url(link) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/profiles/{link.account.platform}/{link.account.platform_uid}/miniprograms/"


def share_url(link) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/miniprograms/{link.miniprogram_id}/shares/"


def take_down(server, how: str) -> None:  # type: ignore[no-untyped-def]
    if how == "stopped":
        server.stop()
    else:
        server.hang()


def timed(call):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


# Pages and the admin


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["stopped", "hung"])
def test_redis_down__merchant_pages_and_login__answer_200(site_on_redis, merchant, live_link, how):
    # Given Redis is down
    take_down(site_on_redis, how)
    client = Client()
    # When the merchant logs in (the session and the lockout counter live in the database)
    response = client.post("/login/", {"username": merchant.username, "password": factories.DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    # Then every page answers
    for url in ("/", "/applications/", "/miniprograms/", f"/miniprograms/{live_link.miniprogram_id}/"):
        response, seconds = timed(lambda url=url: client.get(url))
        assert response.status_code == 200, url
        assert seconds < REQUEST_BOUND_SECONDS, (url, seconds)


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["stopped", "hung"])
def test_redis_down__admin__answers_200(site_on_redis, live_link, how):
    take_down(site_on_redis, how)
    client = Client()
    # The staff log-in form: the session and the lockout counter live in the database.
    User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456")
    response = client.post("/admin/login/", {"username": "chief", "password": "admin-pass-123456"})
    assert response.status_code == 302
    for url in (
        "/admin/",
        "/admin/whitelist/whitelistapplication/",
        "/admin/whitelist/whitelistentry/",
        "/admin/miniprograms/miniprogram/",
        f"/admin/miniprograms/miniprogram/{live_link.miniprogram_id}/change/",
    ):
        response, seconds = timed(lambda url=url: client.get(url))
        assert response.status_code == 200, url
        assert seconds < REQUEST_BOUND_SECONDS, (url, seconds)


@pytest.mark.django_db
def test_redis_stopped__share_from_the_web_page__once_then_refused_with_a_message(
    site_on_redis, merchant, live_link
):
    site_on_redis.stop()
    client = Client()
    client.force_login(merchant)
    url = f"/miniprograms/{live_link.miniprogram_id}/links/{live_link.pk}/share/"
    first = client.post(url, follow=True)
    second = client.post(url, follow=True)
    assert first.status_code == second.status_code == 200
    assert "is shared from" in first.content.decode()
    assert "next is possible at" in second.content.decode()
    assert Share.objects.filter(account=live_link.account).count() == 1


# The public profile


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["stopped", "hung"])
def test_redis_down__profile__answers_200_from_the_database(site_on_redis, merchant, live_link, how):
    # Given the profile was cached while Redis was up
    cached = APIClient().get(profile_url(live_link))
    assert cached.status_code == 200
    assert [m["app_id"] for m in cached.json()["miniprograms"]] == ["2021000000000777"]
    assert site_on_redis.client().dbsize() > 0
    # And Redis goes down, and the mini program is delisted meanwhile
    take_down(site_on_redis, how)
    services.miniprogram_delist(actor=merchant, miniprogram=live_link.miniprogram)

    # When the platform reads the profile, twice
    first, first_seconds = timed(lambda: APIClient().get(profile_url(live_link)))
    second, second_seconds = timed(lambda: APIClient().get(profile_url(live_link)))

    # Then both answers come from the database (the delisting shows), within the bound
    for response in (first, second):
        assert response.status_code == 200
        assert response.json() == {"whitelisted": True, "miniprograms": []}
    assert first_seconds < REQUEST_BOUND_SECONDS
    # After one timeout, the process skips Redis for a while instead of waiting on every call.
    assert second_seconds < 0.2


@pytest.mark.django_db
def test_redis_back__profile__is_cached_again(site_on_redis, live_link, django_assert_num_queries):
    site_on_redis.stop()
    assert APIClient().get(profile_url(live_link)).status_code == 200
    # When Redis is back (empty, as after a crash)
    site_on_redis.start()
    assert APIClient().get(profile_url(live_link)).status_code == 200
    # Then the profile is in Redis again, and the next read costs no query
    with django_assert_num_queries(0):
        assert APIClient().get(profile_url(live_link)).status_code == 200


# Throttles: fail open, never 500


@pytest.mark.django_db
def test_redis_stopped__throttles__let_requests_through(site_on_redis, live_link, monkeypatch):
    monkeypatch.setattr(PrincipalScopedRateThrottle, "THROTTLE_RATES", {"profile": "2/minute"})
    # While Redis is up, the third read in a minute is refused: the throttle counts in Redis
    statuses = [APIClient().get(profile_url(live_link)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # When Redis stops, the throttle has nothing to count with and lets requests through
    site_on_redis.stop()
    statuses = [APIClient().get(profile_url(live_link)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]


# Shares: exact through the database


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["stopped", "hung"])
def test_redis_down__share__one_granted_then_429_through_the_database(
    site_on_redis, merchant_client, live_link, how
):
    take_down(site_on_redis, how)
    first, first_seconds = timed(
        lambda: merchant_client.post(share_url(live_link), {"account": live_link.account_id}, format="json")
    )
    second, second_seconds = timed(
        lambda: merchant_client.post(share_url(live_link), {"account": live_link.account_id}, format="json")
    )
    assert first.status_code == 201, first.content
    assert second.status_code == 429
    assert second["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(second["Retry-After"]) <= 3600
    assert Share.objects.filter(account=live_link.account).count() == 1
    assert max(first_seconds, second_seconds) < REQUEST_BOUND_SECONDS


@pytest.mark.django_db
def test_redis_hung__share_quota__waits_for_it_once_then_decides_on_the_database(
    site_on_redis, merchant_client, live_link, monkeypatch
):
    from miniprograms.quota import RedisQuota

    asked: list[int] = []
    consume = RedisQuota.consume

    def counting_consume(self, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(kwargs["account_id"])
        return consume(self, **kwargs)

    monkeypatch.setattr(RedisQuota, "consume", counting_consume)
    site_on_redis.hang()
    # Straight to the quota, with no cache call before it: the quota's own failure must start the skip.
    window = services.window_start() - services.WINDOW  # last hour's: this hour's share stays free
    for _ in range(3):
        services._consume(account_id=live_link.account_id, limit=1, window=window)
    assert asked == [live_link.account_id]
    asked.clear()
    ResilientRedisCache.forget_failures()
    statuses = [
        merchant_client.post(
            share_url(live_link), {"account": live_link.account_id}, format="json"
        ).status_code
        for _ in range(3)
    ]
    # One share granted, then refused, all decided on the database. At most the first asked the hung
    # Redis: a failure of the quota or of the caches (the throttles ask first) skips it for a while.
    assert statuses == [201, 429, 429]
    assert len(asked) <= 1
    assert Share.objects.filter(account=live_link.account).count() == 1


@pytest.mark.django_db
def test_redis_lost_mid_hour__share__still_refused_after_it_restarts_empty(
    site_on_redis, merchant_client, live_link
):
    # Given one share granted through Redis
    assert (
        merchant_client.post(
            share_url(live_link), {"account": live_link.account_id}, format="json"
        ).status_code
        == 201
    )
    # When Redis crashes and comes back empty in the same hour
    site_on_redis.stop()
    site_on_redis.start()
    # Then the recorded share still counts
    response = merchant_client.post(share_url(live_link), {"account": live_link.account_id}, format="json")
    assert response.status_code == 429
    assert Share.objects.filter(account=live_link.account).count() == 1


@pytest.mark.django_db(transaction=True)
def test_redis_stopped__burst_of_20_shares__exactly_one_granted(postgres, site_on_redis, merchant, live_link):
    site_on_redis.stop()
    barrier = threading.Barrier(20)
    outcomes: list[int] = []

    def attempt() -> None:
        client = APIClient()
        client.force_authenticate(merchant)
        try:
            barrier.wait()
            response = client.post(share_url(live_link), {"account": live_link.account_id}, format="json")
            outcomes.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == [201] + [429] * 19
    assert Share.objects.filter(account=live_link.account).count() == 1


# The health check


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["stopped", "hung"])
def test_redis_down__healthz__is_200_degraded(site_on_redis, client, how):
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "redis": "ok"}
    take_down(site_on_redis, how)
    response, seconds = timed(lambda: client.get("/healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "redis": "error"}
    assert seconds < 1.0
    # When Redis is back, so is "ok"
    if how == "stopped":
        site_on_redis.start()
    else:
        site_on_redis.resume()
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "redis": "ok"}
