"""Login lockout (django-axes) on the web login, the admin login and the token endpoint."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db.models import F
from django.test import Client
from rest_framework.authtoken.models import Token

from tests import factories
from tests.api_contract import assert_problem
from tests.csp import page_problems

RIGHT = factories.DEFAULT_PASSWORD
WRONG = "not-the-password"


@dataclass(frozen=True)
class Door:
    """One way to log in: how to try, and whether the answer let the user in."""

    name: str
    attempt: Callable[[Client, str, str], Any]
    let_in: Callable[[Any], bool]

    def __str__(self) -> str:
        return self.name


def _web(client: Client, username: str, password: str) -> Any:
    return client.post("/login/", {"username": username, "password": password})


def _admin(client: Client, username: str, password: str) -> Any:
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})


def _token(client: Client, username: str, password: str) -> Any:
    return client.post(
        "/api/v1/auth/token/", {"username": username, "password": password}, content_type="application/json"
    )


WEB = Door("web", _web, lambda response: response.status_code == 302 and response["Location"] == "/")
ADMIN = Door(
    "admin", _admin, lambda response: response.status_code == 302 and response["Location"] == "/admin/"
)
TOKEN = Door(
    "token", _token, lambda response: response.status_code == 200 and bool(response.json().get("token"))
)
DOORS = [WEB, ADMIN, TOKEN]


def limit() -> int:
    return int(settings.AXES_FAILURE_LIMIT)


def address_limit() -> int:
    return int(settings.LOGIN_ADDRESS_FAILURE_LIMIT)


def cool_off_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def assert_refused(door: Door, response: Any, text: str = "Too many failed log-ins") -> int:
    """The refusal of that door: a page for people, problem details for the API; 429 with Retry-After.

    Returns the Retry-After seconds."""
    assert response.status_code == 429, response.content
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= cool_off_seconds()
    if door is TOKEN:
        body = assert_problem(response, 429)
        assert body["type"] == "urn:portal:problem:login-locked-out"
        assert text in body["detail"]
    else:
        assert "registration/locked_out.html" in [template.name for template in response.templates]
        assert text in response.content.decode()
    return retry_after


def assert_locked_out(door: Door, response: Any, text: str = "Too many failed log-ins") -> None:
    """Locked for (about) the whole cool-off, as right after the failure that locked it."""
    assert assert_refused(door, response, text) > cool_off_seconds() - 60


def fail(door: Door, client: Client, username: str, times: int) -> list[int]:
    return [door.attempt(client, username, WRONG).status_code for _ in range(times)]


@pytest.fixture
def user(db: None):  # type: ignore[no-untyped-def]
    # Staff, so that every door, the admin's included, lets the right password in.
    return factories.StaffUserFactory(username="erin")


@pytest.mark.parametrize("door", DOORS, ids=str)
def test_login__limit_of_failures_for_a_username_from_an_address__refuses_even_the_right_password(door, user):
    client = Client()
    # Given one failure less than the limit, each answered as a plain wrong password
    refused = 400 if door is TOKEN else 200
    assert fail(door, client, user.username, limit() - 1) == [refused] * (limit() - 1)
    # When the last allowed failure is made
    # Then that attempt already answers with the lockout
    assert_locked_out(door, door.attempt(client, user.username, WRONG), "for this username from this address")
    # And the right password from that address is refused too, and nothing lets the user in
    locked = door.attempt(client, user.username, RIGHT)
    assert_locked_out(door, locked)
    assert "_auth_user_id" not in client.session
    assert not Token.objects.filter(user=user).exists()


def test_login__failures_through_every_door__add_up(user):
    # Given failures through the web login, the admin login and the token endpoint together, from one address
    client = Client()
    for index in range(limit()):
        DOORS[index % len(DOORS)].attempt(client, user.username, WRONG)
    # Then every door refuses the username from that address
    for door in DOORS:
        assert_locked_out(door, door.attempt(Client(), user.username, RIGHT))


@pytest.mark.parametrize("door", DOORS, ids=str)
def test_login__stranger_failing_12_times_from_another_address__does_not_lock_the_owner_out(door, user):
    # Given a stranger who fails 12 times for the owner's username from its own address
    stranger = Client(REMOTE_ADDR="203.0.113.66")
    fail(door, stranger, user.username, 12)
    assert_refused(door, door.attempt(stranger, user.username, RIGHT))
    # When the owner logs in from their own address
    owner = Client(REMOTE_ADDR="198.51.100.10")
    response = door.attempt(owner, user.username, RIGHT)
    # Then the owner gets in
    assert door.let_in(response), response.status_code


@pytest.mark.parametrize("door", DOORS, ids=str)
def test_login__one_username_failing_from_many_addresses__is_slowed_not_locked(door, user):
    # Given failures for one username, one from each of eight addresses (a distributed guess)
    addresses = [f"198.51.100.{index + 1}" for index in range(8)]
    for address in addresses:
        assert door.attempt(Client(REMOTE_ADDR=address), user.username, WRONG).status_code in (200, 400)
    # When one of those addresses tries again at once
    # Then it must wait a while, far less than a lockout: 2 ** (8 - limit) seconds
    retry_after = assert_refused(
        door, door.attempt(Client(REMOTE_ADDR=addresses[0]), user.username, RIGHT), "Wait"
    )
    assert retry_after <= 2 ** (8 - limit()) < cool_off_seconds()
    # And an address that never failed for the username (its owner's) is not held back
    assert door.let_in(door.attempt(Client(REMOTE_ADDR="203.0.113.200"), user.username, RIGHT))
    # And once the delay has passed, the slowed address may try again, and the right password lets in
    _last_attempt_ago(seconds=retry_after + 1)
    assert door.let_in(door.attempt(Client(REMOTE_ADDR=addresses[0]), user.username, RIGHT))


def test_login__slow_down__grows_with_each_failure(user):
    def failures_then_wait(count: int) -> int:
        AccessAttempt.objects.all().delete()
        for index in range(count):
            _token(Client(REMOTE_ADDR=f"198.51.100.{index + 1}"), user.username, WRONG)
        return assert_refused(TOKEN, _token(Client(REMOTE_ADDR="198.51.100.1"), user.username, RIGHT), "Wait")

    waits = [failures_then_wait(count) for count in (limit() + 3, limit() + 5, limit() + 7)]
    assert waits[0] < waits[1] < waits[2]


@pytest.mark.parametrize("door", DOORS, ids=str)
def test_login__address_failing_over_many_usernames__is_held_back_at_its_own_higher_limit(door, user):
    # Given one address (an office's NAT) with one failure less than its limit, over many usernames
    office = Client(REMOTE_ADDR="203.0.113.7")
    for index in range(address_limit() - 1):
        door.attempt(office, f"guess{index}", WRONG)
    # Then a real user behind it still logs in
    assert door.let_in(door.attempt(Client(REMOTE_ADDR="203.0.113.7"), user.username, RIGHT))
    # When it fails once more
    door.attempt(office, "guess-last", WRONG)
    # Then the address is held back, even for a right password
    assert_locked_out(door, door.attempt(office, user.username, RIGHT), "from this address")
    # But the same user from another address logs in
    assert door.let_in(door.attempt(Client(REMOTE_ADDR="198.51.100.20"), user.username, RIGHT))


def test_login__address_limit__is_the_setting_and_defaults_to_50():
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT == 50


@pytest.mark.parametrize("door", DOORS, ids=str)
def test_login__failures_below_the_limit_then_right_password__lets_in(door, user):
    client = Client()
    fail(door, client, user.username, limit() - 1)
    assert door.let_in(door.attempt(client, user.username, RIGHT))


def test_login__own_good_log_in_from_an_address__does_not_clear_its_failures(user):
    # Given an address one failure short of its limit over other people's usernames
    attacker = Client(REMOTE_ADDR="203.0.113.8")
    for index in range(address_limit() - 1):
        _token(attacker, f"victim{index}", WRONG)
    # And a successful web log-in from it to an account its owner holds
    assert WEB.let_in(_web(Client(REMOTE_ADDR="203.0.113.8"), user.username, RIGHT))
    # When it fails once more
    # Then the address is locked out: the success did not reset the count
    assert_locked_out(TOKEN, _token(attacker, "victim-next", WRONG))
    assert_locked_out(TOKEN, _token(attacker, user.username, RIGHT))


@pytest.mark.parametrize("door", [WEB, ADMIN], ids=str)
def test_login_page__locked_out__is_the_lockout_page_under_the_strict_policy(door, user):
    client = Client()
    fail(door, client, user.username, limit())
    response = door.attempt(client, user.username, RIGHT)
    assert_locked_out(door, response)
    page = response.content.decode()
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert "Log-in locked" in page and f"{minutes} more minutes" in page
    assert response["Content-Type"].startswith("text/html")
    assert page_problems(response) == []


def test_token__locked_out_client_changing_x_forwarded_for__is_still_locked_out(user):
    # Given no proxy in front (API_NUM_PROXIES=0), so X-Forwarded-For is the client's own word
    client = Client(REMOTE_ADDR="203.0.113.9")
    for index in range(limit()):
        client.post(
            "/api/v1/auth/token/",
            {"username": user.username, "password": WRONG},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{index}",
        )
    # When it claims yet another address
    response = client.post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": RIGHT},
        content_type="application/json",
        HTTP_X_FORWARDED_FOR="10.0.0.200",
    )
    # Then its real address is still the one locked out
    assert_locked_out(TOKEN, response)


def test_login__behind_one_proxy__counts_the_forwarded_client_not_the_proxy(user, settings):
    # Given one proxy in front that appends the client's address to X-Forwarded-For
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = Client(REMOTE_ADDR="10.0.0.2")

    def through_proxy(client_address: str, username: str, password: str) -> Any:
        return proxy.post(
            "/api/v1/auth/token/",
            {"username": username, "password": password},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=client_address,
        )

    # When one client fails over and over for the username
    for _index in range(limit()):
        through_proxy("203.0.113.50", user.username, WRONG)
    # Then that client is locked out, and another client behind the same proxy is not
    assert_locked_out(TOKEN, through_proxy("203.0.113.50", user.username, RIGHT))
    assert TOKEN.let_in(through_proxy("198.51.100.60", user.username, RIGHT))
    # And a forwarded value that is no address counts against the proxy's, never a 500
    assert through_proxy("unknown", "guess-x", WRONG).status_code == 400


def _last_attempt_ago(*, minutes: int = 0, seconds: int = 0) -> None:
    """Move every recorded attempt back in time, as if the clock had run on since."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes, seconds=seconds))


@pytest.mark.parametrize("door", DOORS, ids=str)
def test_login__lockout__lifts_after_the_cool_off_and_not_before(door, user):
    client = Client()
    fail(door, client, user.username, limit())
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    # Given the locking failure a minute less than the cool-off ago: still locked, for about a minute
    _last_attempt_ago(minutes=minutes - 1)
    assert assert_refused(door, door.attempt(client, user.username, RIGHT)) <= 60
    # (that refused attempt is not recorded, so it did not start the cool-off over)
    # Given the locking failure just over the whole cool-off ago
    _last_attempt_ago(minutes=1, seconds=1)
    # Then the right password lets the user in
    assert door.let_in(door.attempt(client, user.username, RIGHT))


def test_login__attempts_while_locked_out__do_not_prolong_it(user):
    # Given a username locked out from an address ten minutes ago
    client = Client()
    fail(TOKEN, client, user.username, limit())
    _last_attempt_ago(minutes=10)
    # When it keeps trying while locked
    for _index in range(3):
        assert_refused(TOKEN, _token(client, user.username, WRONG))
    # Then the lockout still ends the cool-off after the failure that caused it
    retry_after = assert_refused(TOKEN, _token(client, user.username, RIGHT))
    assert retry_after <= cool_off_seconds() - 10 * 60


def test_login__staff_reset_of_the_username__lifts_the_lockout(user):
    fail(WEB, Client(), user.username, limit())
    assert_locked_out(WEB, _web(Client(), user.username, RIGHT))
    # When staff reset the username with django-axes (as the admin's row delete or axes_reset_username do)
    assert reset(username=user.username) == 1  # a row per address it failed from
    # Then its owner logs in
    assert WEB.let_in(_web(Client(), user.username, RIGHT))
