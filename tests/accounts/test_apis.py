"""The accounts API: sign-up, tokens, verticals, official accounts and verification."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import Membership, OfficialAccount, Organization, User
from accounts.services import official_account_verify
from tests import factories

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    for field in fields:
        assert field in body["errors"], body
        assert body["errors"][field] and all(isinstance(m, str) for m in body["errors"][field])
    return body


def account_payload(**overrides):
    payload = {
        "platform": "weibo",
        "platform_uid": "3000000001",
        "screen_name": "Alice Foods Official",
        "kind": "enterprise",
        "vertical": "food_beverage",
        "followers_count": 250000,
    }
    payload.update(overrides)
    return payload


# Sign-up and tokens


@pytest.mark.django_db
def test_register__valid__is_201_with_user_and_organization_and_owner_membership(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/v1/auth/register/",
            {
                "username": "carol",
                "email": "carol@example.com",
                "password": "a-long-and-unusual-passphrase",
                "organization_name": "Carol Media",
                "organization_kind": "media",
            },
            format="json",
        )
    assert response.status_code == 201
    body = response.json()
    user = User.objects.get(username="carol")
    organization = Organization.objects.get(name="Carol Media")
    assert body == {
        "user": {"id": user.pk, "username": "carol"},
        "organization": {"id": organization.pk, "name": "Carol Media", "kind": "media"},
    }
    assert Membership.objects.get(user=user, organization=organization).role == "owner"
    assert mail.outbox and mail.outbox[-1].to == ["carol@example.com"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "123"),
        ("password", "password"),
        ("email", "not-an-email"),
        ("organization_kind", "church"),
        ("organization_name", ""),
        ("username", "x" * 151),
        ("username", "bad user!"),
    ],
)
def test_register__bad_field__is_400_naming_it_and_creates_nothing(api_client, field, value):
    payload = {
        "username": "dave",
        "email": "dave@example.com",
        "password": "a-long-and-unusual-passphrase",
        "organization_name": "Dave Travel",
        "organization_kind": "enterprise",
        field: value,
    }
    response = api_client.post("/api/v1/auth/register/", payload, format="json")
    assert_problem(response, 400, field)
    assert not User.objects.filter(email="dave@example.com").exists()
    assert not Organization.objects.filter(name="Dave Travel").exists()


@pytest.mark.django_db
def test_register__taken_username_or_email__is_400_and_changes_nothing(api_client, merchant):
    organizations_before = Organization.objects.count()
    taken_username = api_client.post(
        "/api/v1/auth/register/",
        {
            "username": merchant.username,
            "email": "new@example.com",
            "password": "a-long-and-unusual-passphrase",
            "organization_name": "Another Org",
            "organization_kind": "other",
        },
        format="json",
    )
    assert_problem(taken_username, 400, "username")
    taken_email = api_client.post(
        "/api/v1/auth/register/",
        {
            "username": "someone",
            "email": merchant.email.upper(),
            "password": "a-long-and-unusual-passphrase",
            "organization_name": "Another Org",
            "organization_kind": "other",
        },
        format="json",
    )
    assert_problem(taken_email, 400, "email")
    assert Organization.objects.count() == organizations_before


@pytest.mark.django_db
def test_register__wrong_types__is_400_not_500(api_client):
    response = api_client.post(
        "/api/v1/auth/register/",
        {"username": ["a"], "email": 5, "password": {"x": 1}, "organization_name": None},
        format="json",
    )
    assert_problem(response, 400, "username", "password", "organization_name", "organization_kind")


@pytest.mark.django_db
def test_register__malformed_json__is_400_problem(api_client):
    response = api_client.post("/api/v1/auth/register/", "{not json", content_type="application/json")
    assert_problem(response, 400)


@pytest.mark.django_db
def test_token__right_password__returns_token_that_authenticates(merchant):
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/",
        {"username": merchant.username, "password": factories.DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert list(response.json()) == ["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/accounts/").status_code == 200


@pytest.mark.django_db
def test_token__wrong_password__is_400_problem(merchant, api_client):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": merchant.username, "password": "nope"}, format="json"
    )
    assert_problem(response, 400)


@pytest.mark.django_db
def test_accounts__no_credentials__is_401_problem_with_www_authenticate(api_client):
    response = api_client.get("/api/v1/accounts/")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_accounts__bad_token__is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef")
    assert_problem(api_client.get("/api/v1/accounts/"), 401)


# Verticals


@pytest.mark.django_db
def test_verticals__list__has_the_programme_verticals_paginated(merchant_client):
    response = merchant_client.get("/api/v1/verticals/")
    assert response.status_code == 200
    body = response.json()
    assert {"results", "next", "previous"} <= body.keys()
    codes = {item["code"] for item in body["results"]}
    assert {
        "government",
        "commerce",
        "food_beverage",
        "retail",
        "finance",
        "travel",
        "media",
        "education",
        "healthcare",
    } <= codes


# Official accounts: isolation


@pytest.mark.django_db
def test_accounts_list__merchant__sees_only_own(merchant_client, account, other_account):
    response = merchant_client.get("/api/v1/accounts/")
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["results"]] == [account.pk]
    assert body["next"] is None and body["previous"] is None


@pytest.mark.django_db
def test_accounts_list__staff__sees_all(staff_client, account, other_account):
    response = staff_client.get("/api/v1/accounts/")
    assert {item["id"] for item in response.json()["results"]} == {account.pk, other_account.pk}


@pytest.mark.django_db
def test_accounts_list__many__paginates_with_next_link(merchant_client, merchant, organization):
    for number in range(3):
        factories.official_account(actor=merchant, organization=organization, platform_uid=f"77{number}")
    first = merchant_client.get("/api/v1/accounts/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = merchant_client.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["previous"]


@pytest.mark.django_db
def test_accounts_list__invalid_cursor__is_404_problem(merchant_client, account):
    # The list is cursor-paginated: a cursor that was not handed out names no page.
    assert_problem(merchant_client.get("/api/v1/accounts/?cursor=not-a-cursor"), 404)


@pytest.mark.django_db
def test_accounts_list__search_and_filters__narrow_the_list(merchant_client, merchant, organization):
    wanted = factories.official_account(
        actor=merchant, organization=organization, screen_name="Harbour Ferries", vertical_code="travel"
    )
    factories.official_account(actor=merchant, organization=organization, screen_name="Noodle House")
    assert [i["id"] for i in merchant_client.get("/api/v1/accounts/?search=harbour").json()["results"]] == [
        wanted.pk
    ]
    assert [i["id"] for i in merchant_client.get("/api/v1/accounts/?vertical=travel").json()["results"]] == [
        wanted.pk
    ]
    unverified = merchant_client.get("/api/v1/accounts/?verification_status=verified").json()
    assert unverified["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "patch"])
def test_account_detail__other_merchants_account__is_404_and_unchanged(
    merchant_client, other_account, method
):
    response = getattr(merchant_client, method)(
        f"/api/v1/accounts/{other_account.pk}/", {"screen_name": "Hijacked"}, format="json"
    )
    body = assert_problem(response, 404)
    assert "Bob" not in str(body)
    other_account.refresh_from_db()
    assert other_account.screen_name == "Bob Retail"


@pytest.mark.django_db
def test_account_verify__other_merchants_account_as_merchant__is_403_and_unverified(
    merchant_client, other_account
):
    response = merchant_client.post(f"/api/v1/accounts/{other_account.pk}/verify/")
    assert_problem(response, 403)
    other_account.refresh_from_db()
    assert other_account.verification_status == "unverified"


@pytest.mark.django_db
def test_account_verify__own_account_as_merchant__is_403(merchant_client, account):
    assert_problem(merchant_client.post(f"/api/v1/accounts/{account.pk}/verify/"), 403)
    account.refresh_from_db()
    assert account.verification_status == "unverified"


@pytest.mark.django_db
def test_account_create__other_merchants_organization__is_400_on_organization(
    merchant_client, other_merchant_and_org
):
    _, other_organization = other_merchant_and_org
    response = merchant_client.post(
        "/api/v1/accounts/", account_payload(organization=other_organization.pk), format="json"
    )
    assert_problem(response, 400, "organization")
    assert not OfficialAccount.objects.filter(platform_uid="3000000001").exists()


# Official accounts: create, edit, verify


@pytest.mark.django_db
def test_account_create__valid__is_201_unverified_in_own_organization(merchant_client, organization):
    response = merchant_client.post("/api/v1/accounts/", account_payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["verification_status"] == "unverified"
    assert body["vertical"] == "food_beverage"
    assert body["organization"] == organization.pk
    assert OfficialAccount.objects.get(pk=body["id"]).organization == organization


@pytest.mark.django_db
def test_account_create__member_without_manage_role__is_403(api_client, organization):
    member = User.objects.create_user(username="member", password=factories.DEFAULT_PASSWORD)
    Membership.objects.create(user=member, organization=organization, role="member")
    api_client.force_authenticate(member)
    response = api_client.post(
        "/api/v1/accounts/", account_payload(organization=organization.pk), format="json"
    )
    assert response.status_code == 403
    assert response["Content-Type"].startswith(PROBLEM)
    assert not OfficialAccount.objects.exists()


@pytest.mark.django_db
def test_account_create__user_with_two_organizations_and_none_given__is_400_on_organization(
    merchant_client, merchant
):
    second = Organization.objects.create(name="Second Org", kind="other")
    Membership.objects.create(user=merchant, organization=second, role="owner")
    response = merchant_client.post("/api/v1/accounts/", account_payload(), format="json")
    assert_problem(response, 400, "organization")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"followers_count": -1}, "followers_count"),
        ({"followers_count": "many"}, "followers_count"),
        ({"followers_count": 2**64}, "followers_count"),
        ({"vertical": "astrology"}, "vertical"),
        ({"vertical": 7}, "vertical"),
        ({"kind": "person"}, "kind"),
        ({"platform": "myspace"}, "platform"),
        ({"platform_uid": ""}, "platform_uid"),
        ({"platform_uid": "9" * 65}, "platform_uid"),
        ({"platform_uid": "12 34"}, "platform_uid"),
        ({"platform_uid": ["1"]}, "platform_uid"),
        ({"screen_name": "n" * 101}, "screen_name"),
        ({"screen_name": ""}, "screen_name"),
        ({"screen_name": None}, "screen_name"),
    ],
)
def test_account_create__bad_input__is_400_naming_field_and_writes_nothing(
    merchant_client, organization, overrides, field
):
    response = merchant_client.post("/api/v1/accounts/", account_payload(**overrides), format="json")
    assert_problem(response, 400, field)
    assert not OfficialAccount.objects.exists()


@pytest.mark.django_db
def test_account_create__duplicate_platform_uid__is_400_on_platform_uid(merchant_client, other_account):
    response = merchant_client.post(
        "/api/v1/accounts/", account_payload(platform_uid=other_account.platform_uid), format="json"
    )
    assert_problem(response, 400, "platform_uid")
    assert OfficialAccount.objects.count() == 1


@pytest.mark.django_db
def test_account_create__not_a_json_object__is_400(merchant_client, organization):
    response = merchant_client.post("/api/v1/accounts/", [1, 2], format="json")
    assert_problem(response, 400)


@pytest.mark.django_db
def test_account_patch__screen_name__keeps_verification(merchant_client, account, staff):
    official_account_verify(actor=staff, account=account)
    response = merchant_client.patch(
        f"/api/v1/accounts/{account.pk}/", {"screen_name": "Renamed"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["screen_name"] == "Renamed"
    assert response.json()["verification_status"] == "verified"


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [("platform_uid", "5550001"), ("kind", "media")])
def test_account_patch__identity_change_by_merchant__sends_back_to_unverified(
    merchant_client, account, staff, field, value
):
    official_account_verify(actor=staff, account=account)
    response = merchant_client.patch(f"/api/v1/accounts/{account.pk}/", {field: value}, format="json")
    assert response.status_code == 200
    assert response.json()["verification_status"] == "unverified"
    account.refresh_from_db()
    assert getattr(account, field) == value
    assert account.verification_status == "unverified" and account.verified_at is None


@pytest.mark.django_db
def test_account_patch__verification_status_in_body__is_ignored(merchant_client, account):
    response = merchant_client.patch(
        f"/api/v1/accounts/{account.pk}/", {"verification_status": "verified"}, format="json"
    )
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.verification_status == "unverified"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"followers_count": -5}, "followers_count"),
        ({"vertical": "nowhere"}, "vertical"),
        ({"platform_uid": "2000000001"}, "platform_uid"),
        ({"screen_name": "x" * 200}, "screen_name"),
        ({"organization": 1}, "organization"),
    ],
)
def test_account_patch__bad_input__is_400_naming_field_and_changes_nothing(
    merchant_client, account, other_account, payload, field
):
    before = OfficialAccount.objects.values().get(pk=account.pk)
    response = merchant_client.patch(f"/api/v1/accounts/{account.pk}/", payload, format="json")
    assert_problem(response, 400, field)
    assert OfficialAccount.objects.values().get(pk=account.pk) == before


@pytest.mark.django_db
def test_account_verify__staff__is_200_verified(staff_client, account):
    response = staff_client.post(f"/api/v1/accounts/{account.pk}/verify/")
    assert response.status_code == 200
    assert response.json()["verification_status"] == "verified"
    account.refresh_from_db()
    assert account.verified_at is not None


@pytest.mark.django_db
def test_account_verify__unknown_id__is_404(staff_client):
    assert_problem(staff_client.post("/api/v1/accounts/999999/verify/"), 404)


@pytest.mark.django_db
def test_accounts__wrong_method__is_405_problem(merchant_client, account):
    response = merchant_client.delete(f"/api/v1/accounts/{account.pk}/")
    assert_problem(response, 405)
    assert OfficialAccount.objects.filter(pk=account.pk).exists()
