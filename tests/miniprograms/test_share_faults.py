"""Retries and faults on the share path, with real PostgreSQL, Redis and threads: every retry with one
Idempotency-Key gets the first answer, and a slot taken by an attempt that failed comes back."""

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from miniprograms import selectors, services
from miniprograms.models import Share, ShareQuota
from miniprograms.quota import GRANT_SETTLE_SECONDS, RedisQuota, window_start
from whitelist import services as whitelist_services
from whitelist.models import WhitelistEntry


@pytest.fixture
def live_link(pending_link, staff):
    return services.profile_link_approve(actor=staff, link=pending_link)


@pytest.fixture
def redis_client(settings, redis_url) -> Iterator[redis.Redis]:
    settings.REDIS_URL = redis_url
    settings.SHARE_QUOTA_BACKEND = "auto"
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("portal:share-quota:*"):
        client.delete(key)
    yield client
    client.close()


@pytest.fixture(params=["database", "redis"])
def backend(request, settings) -> str:
    if request.param == "database":
        settings.SHARE_QUOTA_BACKEND = "database"
    else:
        request.getfixturevalue("redis_client")
    return str(request.param)


def set_limit(staff, account, limit: int) -> None:
    entry = WhitelistEntry.objects.get(account=account)
    whitelist_services.whitelist_entry_set_share_limit(actor=staff, entry=entry, share_limit_per_hour=limit)


def redis_count(client: redis.Redis, account_id: int) -> int:
    value = client.hget(RedisQuota.key(account_id, window_start()), "n")
    return int(value) if value else 0


def at_once(count: int, request: Callable[[], object]) -> list[object]:
    """Run the request `count` times at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = request()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def keyed_share(merchant, link, key: str) -> Callable[[], tuple[int, dict]]:
    def post() -> tuple[int, dict]:
        client = APIClient()
        client.force_authenticate(merchant)
        response = client.post(
            f"/api/v1/miniprograms/{link.miniprogram_id}/shares/",
            {"account": link.account_id},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
        return response.status_code, response.json()

    return post


# Every retry gets the first answer, even at the limit


@pytest.mark.django_db(transaction=True)
def test_ten_retries_at_once_with_one_key_at_limit_1__all_201_with_the_first_share(
    pinned_hour, postgres, merchant, live_link, backend, redis_url
):
    for round_number in range(3):
        # Given an account with its one share of the hour still free
        Share.objects.all().delete()
        ShareQuota.objects.all().delete()
        if backend == "redis":
            redis.Redis.from_url(redis_url).delete(RedisQuota.key(live_link.account_id, window_start()))
        # When ten requests with one Idempotency-Key arrive at once
        results = at_once(10, keyed_share(merchant, live_link, f"retry-{round_number}"))
        # Then every one answers 201 with the same share, and one share is recorded
        statuses = [result[0] if isinstance(result, tuple) else repr(result) for result in results]
        assert statuses == [201] * 10, statuses
        assert len({result[1]["id"] for result in results if isinstance(result, tuple)}) == 1
        assert Share.objects.filter(account=live_link.account).count() == 1
        if backend == "redis":
            assert redis_count(redis.Redis.from_url(redis_url), live_link.account_id) == 1


@pytest.mark.django_db(transaction=True)
def test_ten_retries_at_once_at_limit_2__leave_one_slot_used__the_second_share_is_granted(
    pinned_hour, postgres, merchant, staff, live_link, redis_client
):
    # Given a limit of 2
    set_limit(staff, live_link.account, 2)
    # When ten requests with one key arrive at once
    results = at_once(10, keyed_share(merchant, live_link, "one-share"))
    assert [result[0] for result in results if isinstance(result, tuple)] == [201] * 10, results
    # Then the retries used no slot: Redis counts one, and the account's second share is granted
    assert redis_count(redis_client, live_link.account_id) == 1
    status, body = keyed_share(merchant, live_link, "second-share")()
    assert status == 201, body
    assert body["quota"]["used"] == 2
    assert Share.objects.filter(account=live_link.account).count() == 2


# A database fault does not cost the account its hour


def terminate_backend_while_inserting_a_share(attempt: Callable[[], object]) -> object:
    """Run the attempt in a thread; while its Share INSERT waits on a table lock held by another
    connection, cut its connection with pg_terminate_backend. Returns what the attempt raised."""
    locked, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def hold_lock() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f'LOCK TABLE "{Share._meta.db_table}" IN SHARE ROW EXCLUSIVE MODE')
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def run() -> None:
        try:
            outcome.append(attempt())
        except Exception as exc:
            outcome.append(exc)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert locked.wait(timeout=10)
    worker = threading.Thread(target=run)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        pid = None
        while pid is None and time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                    [f'INSERT INTO "{Share._meta.db_table}"%'],
                )
                row = cursor.fetchone()
            pid = row[0] if row else None
            time.sleep(0.02)
        assert pid is not None, "the attempt never reached its INSERT"
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        release.set()
        worker.join(timeout=30)
        holder.join(timeout=30)
    return outcome[0]


@pytest.mark.django_db(transaction=True)
def test_connection_cut_mid_share__next_attempt_is_granted(
    pinned_hour, postgres, merchant, live_link, backend
):
    # Given an attempt whose connection is cut after it took the hour's one slot, before it committed
    def attempt() -> object:
        return services.share_record(
            actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account
        )

    failure = terminate_backend_while_inserting_a_share(attempt)
    assert isinstance(failure, DatabaseError), failure
    assert not Share.objects.exists()
    # When the account shares again in the same hour
    share, state, replayed = attempt()  # type: ignore[misc]
    # Then it is granted: the failed attempt's slot came back
    assert state.granted and share.slot == 1 and not replayed
    assert selectors.share_quota_state(account=live_link.account).remaining == 0


@pytest.mark.django_db(transaction=True)
def test_connection_cut_mid_share__quota_endpoint_and_share_agree(
    pinned_hour, postgres, merchant, live_link, redis_client
):
    def attempt() -> object:
        return services.share_record(
            actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account
        )

    terminate_backend_while_inserting_a_share(attempt)
    client = APIClient()
    client.force_authenticate(merchant)
    quota = client.get(f"/api/v1/accounts/{live_link.account_id}/quota/").json()
    assert quota["remaining"] == 1
    assert redis_count(redis_client, live_link.account_id) == 0
    response = client.post(
        f"/api/v1/miniprograms/{live_link.miniprogram_id}/shares/",
        {"account": live_link.account_id},
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_share_rolled_back_by_the_caller__slot_comes_back_once_settled(merchant, live_link, redis_client):
    # Given a share whose enclosing transaction rolled back after share_record returned
    now = timezone.now()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.share_record(
            actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account, now=now
        )
        raise RuntimeError("the caller fails")
    assert not Share.objects.exists()
    key = RedisQuota.key(live_link.account_id, window_start(now))
    assert redis_client.hget(key, "n") == b"1"
    # While the grant is younger than GRANT_SETTLE_SECONDS it may still be in flight: refused
    with pytest.raises(services.ShareQuotaExceeded):
        services.share_record(
            actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account, now=now
        )
    # Once it is older, the recorded shares are the count again: granted
    (server_seconds, _micro) = redis_client.time()
    redis_client.hset(key, "t", server_seconds - GRANT_SETTLE_SECONDS - 1)
    share, state, _replayed = services.share_record(
        actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account, now=now
    )
    assert state.granted and share.slot == 1


@pytest.mark.django_db
def test_slot_given_back_below_a_recorded_one__next_share_takes_the_free_slot(
    merchant, staff, live_link, redis_client
):
    # Given a limit of 2, slot 2 recorded, and slot 1 free while Redis counts one slot taken
    set_limit(staff, live_link.account, 2)
    now = timezone.now()
    first, _state, _ = services.share_record(
        actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account, now=now
    )
    services.share_record(
        actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account, now=now
    )
    Share.objects.filter(pk=first.pk).delete()
    redis_client.hset(RedisQuota.key(live_link.account_id, window_start(now)), "n", 1)
    # When the account shares again: Redis hands out slot 2, which is taken
    share, state, _ = services.share_record(
        actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account, now=now
    )
    # Then the share takes slot 1, and the hour is used up
    assert state.granted and share.slot == 1
    assert sorted(Share.objects.values_list("slot", flat=True)) == [1, 2]
    with pytest.raises(services.ShareQuotaExceeded):
        services.share_record(
            actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account, now=now
        )


@pytest.mark.django_db
def test_share_at_limit_by_recorded_shares__refused_without_asking_redis(merchant, live_link, redis_client):
    now = timezone.now()
    services.share_record(
        actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account, now=now
    )
    # Redis lost its count; the recorded share alone refuses, and the counter is left as it was
    redis_client.delete(RedisQuota.key(live_link.account_id, window_start(now)))
    with pytest.raises(services.ShareQuotaExceeded) as refused:
        services.share_record(
            actor=merchant, miniprogram=live_link.miniprogram, account=live_link.account, now=now
        )
    assert (refused.value.state.used, refused.value.state.limit) == (1, 1)
    assert not redis_client.exists(RedisQuota.key(live_link.account_id, window_start(now)))
