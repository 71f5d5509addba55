"""API keys: issued by staff, stored hashed, found by prefix, refused once revoked or expired."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.scopes import Scope
from integrations import services
from integrations.models import ApiKey
from miniprograms.models import Share
from portal.errors import ApplicationError

from .conftest import IssueKey, KeyClient

ENTRIES = "/api/v1/whitelist-entries/"
PROBLEM = "application/problem+json"


def assert_401(response, detail_word: str) -> None:
    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    assert detail_word in response.json()["detail"].lower()


# Storage


@pytest.mark.django_db
def test_issue__stored_row__holds_a_hash_of_the_secret_not_the_secret(issue_key: IssueKey):
    key, secret = issue_key(Scope.WHITELIST_READ)
    prefix, _, hidden = secret.partition(".")
    assert prefix and len(hidden) >= 32
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    stored = " ".join(str(value) for value in row.values())
    assert hidden not in stored
    assert secret not in stored
    assert row["hashed_key"] and row["hashed_key"] != secret
    assert row["prefix"] == prefix


@pytest.mark.django_db
def test_issue__secret__starts_with_the_prefix_that_finds_the_key(issue_key: IssueKey):
    first, first_secret = issue_key(Scope.WHITELIST_READ)
    second, second_secret = issue_key(Scope.WHITELIST_READ)
    assert first_secret.split(".")[0] == first.prefix
    assert second_secret.split(".")[0] == second.prefix
    assert first.prefix != second.prefix
    assert ApiKey.objects.get_from_key(second_secret) == second


@pytest.mark.django_db
def test_issue__records_who_issued_it_and_its_scopes(issue_key: IssueKey, staff, organization):
    key, _secret = issue_key(Scope.SHARES_WRITE, Scope.WHITELIST_READ, organization=organization)
    key.refresh_from_db()
    assert key.created_by == staff
    assert key.scopes == ["shares:write", "whitelist:read"]
    assert key.organization == organization
    assert not key.revoked and key.revoked_at is None


# Issuing is for staff, with known scopes


@pytest.mark.django_db
def test_issue__by_a_merchant__is_refused_and_nothing_stored(merchant):
    with pytest.raises(ApplicationError) as refused:
        services.api_key_issue(actor=merchant, name="mine", scopes=[Scope.WHITELIST_READ])
    assert refused.value.status_code == 403
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("scopes", [["whitelist:read", "shares:delete"], ["admin"], []])
def test_issue__unknown_or_no_scope__is_refused_naming_scopes(staff, scopes):
    with pytest.raises(ApplicationError) as refused:
        services.api_key_issue(actor=staff, name="partner", scopes=scopes)
    assert refused.value.status_code == 400
    assert list(refused.value.errors) == ["scopes"]
    for unknown in set(scopes) - set(Scope.values):
        assert unknown in refused.value.errors["scopes"][0]
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_issue__expiry_in_the_past__is_refused_naming_expiry_date(staff):
    with pytest.raises(ApplicationError) as refused:
        services.api_key_issue(
            actor=staff,
            name="partner",
            scopes=[Scope.WHITELIST_READ],
            expiry_date=timezone.now() - timedelta(minutes=1),
        )
    assert "expiry_date" in refused.value.errors
    assert not ApiKey.objects.exists()


# Authentication


@pytest.mark.django_db
def test_request__valid_key__is_served_and_sets_last_used_at(issue_key: IssueKey, key_client: KeyClient):
    key, secret = issue_key(Scope.WHITELIST_READ)
    other, _other_secret = issue_key(Scope.WHITELIST_READ)
    assert key.last_used_at is None
    before = timezone.now()
    response = key_client(secret).get(ENTRIES)
    assert response.status_code == 200
    key.refresh_from_db()
    other.refresh_from_db()
    assert key.last_used_at is not None and before <= key.last_used_at <= timezone.now()
    assert other.last_used_at is None


@pytest.mark.django_db
def test_request__revoked_key__is_401_problem_saying_revoked(
    issue_key: IssueKey, key_client: KeyClient, staff
):
    # Given a key that worked
    key, secret = issue_key(Scope.WHITELIST_READ)
    client = key_client(secret)
    assert client.get(ENTRIES).status_code == 200
    # When staff revoke it
    services.api_key_revoke(actor=staff, key=key)
    # Then the next request with it is refused
    assert_401(client.get(ENTRIES), "revoked")


@pytest.mark.django_db
def test_request__expired_key__is_401_problem_saying_expired(
    issue_key: IssueKey, key_client: KeyClient, monkeypatch
):
    # Given a key valid for one more day
    issued_at = timezone.now()
    _key, secret = issue_key(Scope.WHITELIST_READ, expiry_date=issued_at + timedelta(days=1))
    assert key_client(secret).get(ENTRIES).status_code == 200
    # When two days have passed
    monkeypatch.setattr(timezone, "now", lambda: issued_at + timedelta(days=2))
    # Then it is refused as expired
    assert_401(key_client(secret).get(ENTRIES), "expired")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_credential",
    [
        pytest.param(lambda secret: "garbage", id="garbage"),
        pytest.param(lambda secret: "", id="empty"),
        pytest.param(lambda secret: secret.split(".")[0], id="prefix only"),
        pytest.param(lambda secret: secret.split(".")[0] + ".", id="prefix and dot"),
        pytest.param(lambda secret: secret[:-1] + ("A" if secret[-1] != "A" else "B"), id="wrong secret"),
        pytest.param(lambda secret: "ZZZZZZZZ." + secret.split(".")[1], id="unknown prefix"),
    ],
)
def test_request__invalid_key__is_401_problem(issue_key: IssueKey, key_client: KeyClient, make_credential):
    key, secret = issue_key(Scope.WHITELIST_READ)
    response = key_client(make_credential(secret)).get(ENTRIES)
    assert_401(response, "invalid")
    key.refresh_from_db()
    assert key.last_used_at is None


@pytest.mark.django_db
def test_request__revoked_key_with_wrong_secret__does_not_reveal_the_key_exists(
    issue_key: IssueKey, key_client: KeyClient, staff
):
    key, secret = issue_key(Scope.WHITELIST_READ)
    services.api_key_revoke(actor=staff, key=key)
    response = key_client(secret.split(".")[0] + ".not-the-secret").get(ENTRIES)
    assert_401(response, "invalid")
    assert "revoked" not in response.json()["detail"].lower()


# Revocation is for good


@pytest.mark.django_db
def test_revoke__then_save_as_unrevoked__is_refused_and_key_stays_revoked(
    issue_key: IssueKey, key_client: KeyClient, staff
):
    # Given a revoked key
    key, secret = issue_key(Scope.WHITELIST_READ)
    key = services.api_key_revoke(actor=staff, key=key)
    # When someone tries to un-revoke it, on the instance or on a fresh copy
    key.revoked = False
    with pytest.raises(ValidationError):
        key.save()
    fresh = ApiKey.objects.get(pk=key.pk)
    fresh.revoked = False
    with pytest.raises(ValidationError):
        fresh.save()
    # Then it stays revoked and refused
    assert ApiKey.objects.get(pk=key.pk).revoked
    assert_401(key_client(secret).get(ENTRIES), "revoked")


@pytest.mark.django_db
def test_revoke__twice__keeps_the_first_revocation_time(issue_key: IssueKey, staff):
    key, _secret = issue_key(Scope.WHITELIST_READ)
    first = services.api_key_revoke(actor=staff, key=key).revoked_at
    again = services.api_key_revoke(actor=staff, key=ApiKey.objects.get(pk=key.pk))
    assert first is not None and again.revoked and again.revoked_at == first


@pytest.mark.django_db
def test_revoke__by_a_merchant__is_refused_and_key_still_works(
    issue_key: IssueKey, key_client: KeyClient, merchant
):
    key, secret = issue_key(Scope.WHITELIST_READ)
    with pytest.raises(ApplicationError):
        services.api_key_revoke(actor=merchant, key=key)
    assert not ApiKey.objects.get(pk=key.pk).revoked
    assert key_client(secret).get(ENTRIES).status_code == 200


# Shares made with a key


@pytest.mark.django_db
def test_share__with_key__records_the_key_and_uses_the_accounts_quota(
    issue_key: IssueKey, key_client: KeyClient, organization, live_link
):
    # Given a shares:write key of the account's organization, and an hourly limit of 1
    key, secret = issue_key(Scope.SHARES_WRITE, organization=organization)
    client = key_client(secret)
    url = f"/api/v1/miniprograms/{live_link.miniprogram_id}/shares/"
    # When it shares for the account
    first = client.post(url, {"account": live_link.account_id}, format="json")
    # Then the share is recorded with the key and counts against the account's quota
    assert first.status_code == 201, first.content
    quota_after_share = first.json()["quota"]
    assert (quota_after_share["limit"], quota_after_share["used"], quota_after_share["remaining"]) == (
        1,
        1,
        0,
    )
    share = Share.objects.get()
    assert share.pk == first.json()["id"]
    assert share.api_key_id == key.pk
    quota = client.get(f"/api/v1/accounts/{live_link.account_id}/quota/")
    assert quota.status_code == 200 and quota.json()["used"] == 1
    # And a second share in the same hour is refused with a time to wait
    second = client.post(url, {"account": live_link.account_id}, format="json")
    assert second.status_code == 429
    assert second["Content-Type"].startswith(PROBLEM)
    assert 1 <= int(second["Retry-After"]) <= 3600
    assert Share.objects.count() == 1


@pytest.mark.django_db
def test_share__merchant_after_key_used_the_quota__is_429(
    issue_key: IssueKey, key_client: KeyClient, merchant_client, live_link
):
    # The quota is the account's, whoever shares: a key and the merchant draw on the same one.
    _key, secret = issue_key(Scope.SHARES_WRITE)
    url = f"/api/v1/miniprograms/{live_link.miniprogram_id}/shares/"
    assert key_client(secret).post(url, {"account": live_link.account_id}, format="json").status_code == 201
    response = merchant_client.post(url, {"account": live_link.account_id}, format="json")
    assert response.status_code == 429
    assert Share.objects.count() == 1


@pytest.mark.django_db
def test_options__post_only_endpoint__allowed_for_a_key_with_its_scope(issue_key, key_client):
    # OPTIONS describes an endpoint; a key that may POST there may ask how
    _key, secret = issue_key(Scope.ACCOUNTS_WRITE)
    response = key_client(secret).options("/api/v1/accounts/bulk-upsert/")
    assert response.status_code == 200
    _key, other = issue_key(Scope.PROFILES_READ)
    assert key_client(other).options("/api/v1/accounts/bulk-upsert/").status_code == 403
