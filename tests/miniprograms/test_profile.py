"""The public profile endpoint: what it shows, its query budget, and the cache forgotten on every change."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import official_account_update
from miniprograms import services
from portal.errors import InvalidInput
from whitelist import services as whitelist_services
from whitelist.models import WhitelistEntry


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def live_link(pending_link, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.profile_link_approve(actor=staff, link=pending_link)


def profile(account):
    response = APIClient().get(f"/api/v1/profiles/{account.platform}/{account.platform_uid}/miniprograms/")
    return response


@pytest.mark.django_db
def test_profile__live_link__shows_the_mini_program(live_link):
    response = profile(live_link.account)
    assert response.status_code == 200
    assert response.json() == {
        "whitelisted": True,
        "miniprograms": [
            {
                "app_id": "2021000000000001",
                "name": "Burger Order",
                "description": "Order burgers ahead.",
                "category": "business",
                "capabilities": ["payment", "card"],
                "icon_url": None,
            }
        ],
    }


@pytest.mark.django_db
def test_profile__pending_link_only__shows_nothing(pending_link):
    assert profile(pending_link.account).json() == {"whitelisted": True, "miniprograms": []}


@pytest.mark.django_db
def test_profile__account_not_whitelisted__is_false_and_empty(account):
    assert profile(account).json() == {"whitelisted": False, "miniprograms": []}


@pytest.mark.django_db
def test_profile__unknown_account__is_404_problem():
    response = APIClient().get("/api/v1/profiles/weibo/0000/miniprograms/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.django_db
def test_profile__several_links__in_position_order(merchant, staff, listed_account, make_miniprogram):
    for number in range(3):
        miniprogram = make_miniprogram(f"20210000000001{number}0", name=f"Program {number}")
        link = services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=listed_account)
        services.profile_link_approve(actor=staff, link=link)
    names = [item["name"] for item in profile(listed_account).json()["miniprograms"]]
    assert names == ["Program 0", "Program 1", "Program 2"]


@pytest.mark.django_db
def test_profile__miss_costs_at_most_3_queries_and_hit_none(
    live_link, django_assert_max_num_queries, django_assert_num_queries
):
    with django_assert_max_num_queries(3):
        assert profile(live_link.account).status_code == 200
    with django_assert_num_queries(0):
        assert profile(live_link.account).json()["miniprograms"]


# Every change that alters the profile forgets the cached copy


@pytest.mark.django_db
def test_cache__link_approved__appears(merchant, staff, pending_link, django_capture_on_commit_callbacks):
    assert profile(pending_link.account).json()["miniprograms"] == []
    with django_capture_on_commit_callbacks(execute=True):
        services.profile_link_approve(actor=staff, link=pending_link)
    assert len(profile(pending_link.account).json()["miniprograms"]) == 1


@pytest.mark.django_db
def test_cache__link_unlinked__disappears(merchant, live_link, django_capture_on_commit_callbacks):
    assert profile(live_link.account).json()["miniprograms"]
    with django_capture_on_commit_callbacks(execute=True):
        services.profile_link_unlink(actor=merchant, link=live_link)
    assert profile(live_link.account).json()["miniprograms"] == []


@pytest.mark.django_db
def test_cache__miniprogram_renamed__shows_new_name(merchant, live_link, django_capture_on_commit_callbacks):
    profile(live_link.account)
    with django_capture_on_commit_callbacks(execute=True):
        services.miniprogram_update(
            actor=merchant, miniprogram=live_link.miniprogram, data={"name": "Renamed"}
        )
    assert profile(live_link.account).json()["miniprograms"][0]["name"] == "Renamed"


@pytest.mark.django_db
def test_cache__miniprogram_delisted__disappears(merchant, live_link, django_capture_on_commit_callbacks):
    profile(live_link.account)
    with django_capture_on_commit_callbacks(execute=True):
        services.miniprogram_delist(actor=merchant, miniprogram=live_link.miniprogram)
    assert profile(live_link.account).json()["miniprograms"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["suspend", "revoke"])
def test_cache__entry_suspended_or_revoked__off_the_profile_at_once(
    staff, live_link, action, django_capture_on_commit_callbacks
):
    profile(live_link.account)
    entry = WhitelistEntry.objects.get(account=live_link.account)
    with django_capture_on_commit_callbacks(execute=True):
        getattr(whitelist_services, f"whitelist_entry_{action}")(actor=staff, entry=entry, reason="Spam")
    assert profile(live_link.account).json() == {"whitelisted": False, "miniprograms": []}


@pytest.mark.django_db
def test_cache__entry_expired_by_the_job__off_the_profile(live_link, django_capture_on_commit_callbacks):
    profile(live_link.account)
    WhitelistEntry.objects.filter(account=live_link.account).update(
        valid_from=timezone.now() - timedelta(days=400), valid_until=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        whitelist_services.whitelist_entries_expire()
    assert profile(live_link.account).json()["whitelisted"] is False


@pytest.mark.django_db
def test_account_uid_change__while_a_link_is_live__is_refused_and_the_profile_stays(
    merchant, live_link, django_capture_on_commit_callbacks
):
    # The entry and the link were granted to this uid: changing it is refused while they hang on it.
    account = live_link.account
    old_uid = account.platform_uid
    profile(account)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvalidInput) as caught:
        official_account_update(actor=merchant, account=account, data={"platform_uid": "7199999999"})
    assert "1 live profile link" in caught.value.errors["platform_uid"][0]
    assert APIClient().get(f"/api/v1/profiles/weibo/{old_uid}/miniprograms/").status_code == 200
    assert APIClient().get("/api/v1/profiles/weibo/7199999999/miniprograms/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("uid", ["with space", "x" * 300, "tab\tand:colon"])
def test_profile__uid_unfit_for_a_cache_key__is_404_not_500(api_client, uid):
    # Cache backends refuse keys with spaces or over 250 characters; the uid is hashed into the key.
    response = api_client.get(f"/api/v1/profiles/weibo/{uid}/miniprograms/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


# Never stale after a change, with real concurrency (Redis, PostgreSQL, threads)


@pytest.mark.django_db(transaction=True)
def test_cache__readers_while_entry_suspended_and_reinstated__no_read_after_a_change_is_old(
    postgres, redis_url, staff, pending_link
):
    import random
    import sys
    import threading
    import time

    from django.conf import settings
    from django.db import connection, transaction

    from accounts.profile_cache import profile_cache_key
    from miniprograms.profile import profile_section

    # Given the profile cached on Redis, and readers reading it in a loop
    assert settings.CACHES["default"]["BACKEND"] == "portal.cache.ResilientRedisCache"
    services.profile_link_approve(actor=staff, link=pending_link)
    account = pending_link.account
    pair = {"platform": account.platform, "platform_uid": account.platform_uid}
    shown = profile_section(**pair)
    assert shown is not None and shown["whitelisted"]
    hidden = {"whitelisted": False, "miniprograms": []}
    reads: list[tuple[float, float, bool]] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                body = profile_section(**pair)
                reads.append((started, time.monotonic(), bool(body and body["whitelisted"])))
        finally:
            connection.close()

    # Threads switch often, so a miss's database read and its cache write interleave with the changes.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    # When staff suspend and reinstate the entry, again and again
    changes: list[tuple[float, float, bool]] = []  # (change started, its response, whitelisted after)
    entry = WhitelistEntry.objects.get(account=account)
    body_key = profile_cache_key(account.platform, account.platform_uid)
    try:
        for _round in range(40):
            for action, whitelisted_after in (("suspend", False), ("reinstate", True)):
                started = time.monotonic()
                with transaction.atomic():
                    getattr(whitelist_services, f"whitelist_entry_{action}")(
                        actor=staff, entry=entry, reason="Check"
                    )
                    # While the change is not yet committed, the cached body is evicted (as Redis does
                    # under memory pressure): readers miss and read the database's old state.
                    until = time.monotonic() + 0.005
                    while time.monotonic() < until:
                        cache.delete(body_key)
                        time.sleep(0.0005)
                changes.append((started, time.monotonic(), whitelisted_after))
                time.sleep(random.choice([0.002, 0.01]))
    finally:
        stop.set()
        sys.setswitchinterval(switch_interval)
        for reader in readers:
            reader.join(timeout=30)
    # Then every read that began after a change's response, and ended before the next change began,
    # shows what that change made
    stale = []
    checked = 0
    for index, (_started, answered, whitelisted_after) in enumerate(changes):
        next_started = changes[index + 1][0] if index + 1 < len(changes) else float("inf")
        for read_started, read_ended, whitelisted in reads:
            if read_started >= answered and read_ended <= next_started:
                checked += 1
                if whitelisted != whitelisted_after:
                    stale.append((index, whitelisted_after))
    assert checked > 50, checked
    assert stale == [], f"{len(stale)} stale reads of {checked}"
    assert profile_section(**pair) == shown
    assert hidden != shown


@pytest.mark.django_db
def test_profile__unknown_account__writes_nothing_to_the_cache():
    from accounts.profile_cache import profile_cache_key, profile_version_key

    assert APIClient().get("/api/v1/profiles/weibo/5550001/miniprograms/").status_code == 404
    assert cache.get(profile_version_key("weibo", "5550001")) is None
    assert cache.get(profile_cache_key("weibo", "5550001")) is None
