"""The API's throttles as a client sees them: RateLimit fields, 429 with Retry-After, whose budget."""

import re

import pytest
from rest_framework.test import APIClient

from accounts.scopes import Scope
from portal.throttling import IpRateThrottle, PrincipalRateThrottle, PrincipalScopedRateThrottle

from .conftest import IssueKey, KeyClient

PROBLEM = "application/problem+json"
# Small rates, set on the throttle classes: DRF reads REST_FRAMEWORK once, at import.
RATES = {"anon": 50, "user": 60, "api_key": 70, "ip": 100, "whitelist_lookup": 30, "profile": 40}


@pytest.fixture
def rates(monkeypatch: pytest.MonkeyPatch):
    def set_rates(**limits: int) -> None:
        per_minute = {name: f"{limit}/minute" for name, limit in {**RATES, **limits}.items()}
        monkeypatch.setattr(
            PrincipalRateThrottle,
            "THROTTLE_RATES",
            {name: per_minute[name] for name in ("anon", "user", "api_key")},
        )
        monkeypatch.setattr(IpRateThrottle, "THROTTLE_RATES", {"ip": per_minute["ip"]})
        monkeypatch.setattr(
            PrincipalScopedRateThrottle,
            "THROTTLE_RATES",
            {name: per_minute[name] for name in ("whitelist_lookup", "profile")},
        )

    set_rates()
    return set_rates


@pytest.fixture
def user_client(merchant) -> APIClient:
    client = APIClient()
    client.force_authenticate(merchant)
    return client


@pytest.fixture
def key_secret(issue_key: IssueKey) -> str:
    _key, secret = issue_key(*Scope.values)
    return secret


def remaining(response, name: str) -> int:
    """The `r` of one item of the RateLimit field."""
    match = re.search(rf'"{re.escape(name)}";r=(\d+);t=(\d+)', response["RateLimit"])
    assert match, f"no {name} item in RateLimit: {response['RateLimit']!r}"
    return int(match.group(1))


# Case: who asks, what, the status it gets, and the budget that counts it besides the address's.
CASES = {
    "anonymous token request": ("anon", "POST", "/api/v1/auth/token/", 400, "anon"),
    "user list": ("user", "GET", "/api/v1/verticals/", 200, "user"),
    "user unknown account": ("user", "GET", "/api/v1/accounts/999999999/", 404, "user"),
    "key entry list": ("key", "GET", "/api/v1/whitelist-entries/", 200, "api_key"),
    "key unknown entry": ("key", "GET", "/api/v1/whitelist-entries/999999999/", 404, "api_key"),
    "key bad bulk upsert": ("key", "POST", "/api/v1/accounts/bulk-upsert/", 400, "api_key"),
    "anonymous lookup": ("anon", "GET", "/api/v1/whitelist/weibo/{uid}/", 200, "whitelist_lookup"),
    "key lookup": ("key", "GET", "/api/v1/whitelist/weibo/{uid}/", 200, "whitelist_lookup"),
    "key profile": ("key", "GET", "/api/v1/profiles/weibo/{uid}/miniprograms/", 200, "profile"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(CASES))
def test_response__any_principal__carries_its_item_and_the_ip_item(
    case: str, rates, user_client: APIClient, key_client: KeyClient, key_secret: str, account
):
    # Given a principal of each kind
    who, method, url, status, name = CASES[case]
    client = {"anon": APIClient(), "user": user_client, "key": key_client(key_secret)}[who]
    # When it makes its first request
    response = client.generic(method, url.format(uid=account.platform_uid), "{}", "application/json")
    # Then the answer names its budget and the address's, each with one request spent
    assert response.status_code == status, response.content
    assert response["RateLimit-Policy"] == f'"{name}";q={RATES[name]};w=60, "ip";q={RATES["ip"]};w=60'
    assert re.fullmatch(
        rf'"{name}";r={RATES[name] - 1};t=\d+, "ip";r={RATES["ip"] - 1};t=\d+', response["RateLimit"]
    ), response["RateLimit"]


@pytest.mark.django_db
def test_ratelimit__successive_requests__remaining_decreases(rates, user_client: APIClient):
    responses = [user_client.get("/api/v1/verticals/") for _ in range(3)]
    assert [remaining(response, "user") for response in responses] == [59, 58, 57]
    assert [remaining(response, "ip") for response in responses] == [99, 98, 97]


@pytest.mark.django_db
def test_ratelimit__over_the_rate__is_429_problem_with_retry_after_and_r0(rates, user_client: APIClient):
    # Given a user allowed 2 requests a minute
    rates(user=2)
    for _ in range(2):
        assert user_client.get("/api/v1/verticals/").status_code == 200
    # When it makes a third
    response = user_client.get("/api/v1/verticals/")
    # Then it is told to wait, in the problem, in Retry-After and in the RateLimit field
    assert response.status_code == 429
    assert response["Content-Type"].startswith(PROBLEM)
    assert response.json()["status"] == 429
    # At most a window and one request's share of it (60 + 60 / 2): the sliding counter takes the two
    # requests as spread over their window, so they slide out of the next one only at its middle.
    assert 1 <= int(response["Retry-After"]) <= 90
    assert remaining(response, "user") == 0
    reset = int(re.search(r'"user";r=0;t=(\d+)', response["RateLimit"]).group(1))
    assert 1 <= reset <= 90
    assert response["RateLimit-Policy"].startswith('"user";q=2;w=60, "ip";')


@pytest.mark.django_db
def test_ratelimit__refused__reset_time_agrees_with_retry_after(rates, user_client: APIClient):
    rates(user=1)
    assert user_client.get("/api/v1/verticals/").status_code == 200
    response = user_client.get("/api/v1/verticals/")
    assert response.status_code == 429
    reset = int(re.search(r'"user";r=0;t=(\d+)', response["RateLimit"]).group(1))
    assert reset == int(response["Retry-After"])


@pytest.mark.django_db
def test_ratelimit__two_keys__have_independent_budgets(rates, issue_key: IssueKey, key_client: KeyClient):
    # Given two keys allowed 2 requests a minute each
    rates(api_key=2)
    _first, first_secret = issue_key(Scope.WHITELIST_READ)
    _second, second_secret = issue_key(Scope.WHITELIST_READ)
    first, second = key_client(first_secret), key_client(second_secret)
    # When the first spends its budget
    assert [first.get("/api/v1/whitelist-entries/").status_code for _ in range(3)] == [200, 200, 429]
    # Then the second still has all of its own
    response = second.get("/api/v1/whitelist-entries/")
    assert response.status_code == 200
    assert remaining(response, "api_key") == 1


@pytest.mark.django_db
def test_ratelimit__user_and_key__have_independent_budgets(
    rates, user_client: APIClient, key_client: KeyClient, key_secret: str
):
    rates(user=1, api_key=1)
    assert user_client.get("/api/v1/whitelist-entries/").status_code == 200
    assert user_client.get("/api/v1/whitelist-entries/").status_code == 429
    assert key_client(key_secret).get("/api/v1/whitelist-entries/").status_code == 200


@pytest.mark.django_db
def test_ip_throttle__principals_from_one_address__share_its_budget(
    rates, merchant, staff, issue_key: IssueKey, key_client: KeyClient
):
    # Given an address allowed 3 requests a minute, and three principals behind it
    rates(ip=3)
    address = "203.0.113.9"
    merchant_client = APIClient(REMOTE_ADDR=address)
    merchant_client.force_authenticate(merchant)
    staff_client = APIClient(REMOTE_ADDR=address)
    staff_client.force_authenticate(staff)
    _key, secret = issue_key(Scope.WHITELIST_READ)
    key_from_address = key_client(secret, remote_addr=address)
    # When each makes one request, and the key a second
    answers = [
        merchant_client.get("/api/v1/whitelist-entries/"),
        staff_client.get("/api/v1/whitelist-entries/"),
        key_from_address.get("/api/v1/whitelist-entries/"),
    ]
    refused = key_from_address.get("/api/v1/whitelist-entries/")
    # Then the address's budget is spent by all three together
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [remaining(answer, "ip") for answer in answers] == [2, 1, 0]
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith(PROBLEM)
    assert remaining(refused, "ip") == 0
    assert int(refused["Retry-After"]) >= 1
    # And the same key from another address is served, its own budget barely touched
    elsewhere = key_client(secret, remote_addr="198.51.100.4").get("/api/v1/whitelist-entries/")
    assert elsewhere.status_code == 200
    assert remaining(elsewhere, "ip") == 2


@pytest.mark.django_db
def test_ip_throttle__client_rotating_x_forwarded_for__is_still_throttled(rates):
    # Given an anonymous client allowed 2 requests a minute from its address
    rates(ip=2, anon=2)
    client = APIClient(REMOTE_ADDR="203.0.113.10")
    # When it makes up a new X-Forwarded-For for each request
    statuses = [
        client.post(
            "/api/v1/auth/token/", {}, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{number}"
        ).status_code
        for number in range(3)
    ]
    # Then its third request is still refused
    assert statuses == [400, 400, 429]


@pytest.mark.django_db
def test_share_response__carries_the_share_item_first(
    rates, issue_key: IssueKey, key_client: KeyClient, live_link
):
    _key, secret = issue_key(Scope.SHARES_WRITE)
    response = key_client(secret).post(
        f"/api/v1/miniprograms/{live_link.miniprogram_id}/shares/",
        {"account": live_link.account_id},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response["RateLimit-Policy"] == '"share";q=1;w=3600, "api_key";q=70;w=60, "ip";q=100;w=60'
    assert re.fullmatch(r'"share";r=0;t=\d+, "api_key";r=69;t=\d+, "ip";r=99;t=\d+', response["RateLimit"])


@pytest.mark.django_db
def test_share_over_quota__429_carries_share_item_first_and_throttles_after(
    rates, issue_key: IssueKey, key_client: KeyClient, live_link
):
    _key, secret = issue_key(Scope.SHARES_WRITE)
    client = key_client(secret)
    url = f"/api/v1/miniprograms/{live_link.miniprogram_id}/shares/"
    assert client.post(url, {"account": live_link.account_id}, format="json").status_code == 201
    response = client.post(url, {"account": live_link.account_id}, format="json")
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert response["RateLimit"].startswith(f'"share";r=0;t={retry_after}, "api_key";r=68;')
