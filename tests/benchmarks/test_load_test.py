"""The load test of `make bench` (benchmarks/load_test.py) against Django's live server, small.

PostgreSQL only, as the benchmark: it picks one live link per account with DISTINCT ON.
"""

from dataclasses import replace

import pytest
from pytest_django.live_server_helper import LiveServer

from benchmarks import load_test
from tests.integrations.conftest import live_link_of


@pytest.fixture
def one_live_account(postgres, merchant, organization, staff, policy, fresh_share_quota):  # type: ignore[no-untyped-def]
    live_link_of(
        owner=merchant, organization=organization, reviewer=staff, uid="load-1", app_id="2021000000000501"
    )
    return load_test.prepare_load(accounts=1)


@pytest.mark.django_db(transaction=True)
def test_run_load__grants_the_limit_and_finds_no_fault(live_server: LiveServer, one_live_account) -> None:  # type: ignore[no-untyped-def]
    accounts, secret = one_live_account
    result = load_test.run_load(live_server.url, accounts, secret, seconds=2, rate=20, clients=4)
    assert result.requests == 40
    assert result.granted == 1  # one share an hour, whatever the number of attempts
    assert result.statuses[("share", 429)] >= 1
    assert result.passed, load_test.as_dict(result)


@pytest.mark.django_db(transaction=True)
def test_run_load__a_grant_beyond_the_limit__is_an_over_grant(
    live_server: LiveServer, one_live_account
) -> None:  # type: ignore[no-untyped-def]
    accounts, secret = one_live_account
    # Pretend the account's limit is 0: its one grant is then one too many, for the answers and the rows.
    pretended = [replace(account, limit=0) for account in accounts]
    result = load_test.run_load(live_server.url, pretended, secret, seconds=1, rate=20, clients=2)
    assert result.granted == 1
    assert (result.over_grants, result.database_over_limit) == (1, 1)
    assert not result.passed


def test_prepare_load__too_few_live_accounts__says_how_many(postgres: None, staff) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="needs 3 accounts with a live mini program; found 0"):
        load_test.prepare_load(accounts=3)
