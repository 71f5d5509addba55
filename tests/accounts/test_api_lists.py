"""The accounts API's lists (filters, ordering, cursor pages, query counts) and its OpenAPI description."""

import base64

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountKind
from accounts.services import official_account_verify
from tests import factories
from tests.api_contract import assert_documented, assert_problem, ids, walk

# Filters and search


@pytest.mark.django_db
def test_accounts_list__each_filter__narrows_the_list(
    staff_client, staff, merchant, organization, other_account
):
    # Given accounts that differ in name, uid, vertical, kind, verification and organization
    ferries = factories.official_account(
        actor=merchant,
        organization=organization,
        platform_uid="5550001",
        screen_name="Harbour Ferries",
        vertical_code="travel",
        kind=AccountKind.MEDIA,
    )
    noodles = factories.official_account(
        actor=merchant, organization=organization, platform_uid="5550002", screen_name="Noodle House"
    )
    official_account_verify(actor=staff, account=noodles)

    # Then each filter keeps only the accounts it names
    assert ids(staff_client.get("/api/v1/accounts/?search=harbour")) == [ferries.pk]
    assert ids(staff_client.get("/api/v1/accounts/?search=5550002")) == [noodles.pk]
    assert ids(staff_client.get("/api/v1/accounts/?search=555000")) == []  # the uid must match whole
    assert ids(staff_client.get("/api/v1/accounts/?vertical=travel")) == [ferries.pk]
    assert ids(staff_client.get("/api/v1/accounts/?kind=media")) == [ferries.pk]
    assert ids(staff_client.get("/api/v1/accounts/?verification_status=verified")) == [noodles.pk]
    assert ids(staff_client.get(f"/api/v1/accounts/?organization={organization.pk}")) == [
        noodles.pk,
        ferries.pk,
    ]
    assert ids(staff_client.get(f"/api/v1/accounts/?organization={other_account.organization_id}")) == [
        other_account.pk
    ]
    assert ids(staff_client.get("/api/v1/accounts/?kind=media&vertical=commerce")) == []


@pytest.mark.django_db
def test_accounts_list__merchant_filters_by_another_organization__sees_nothing(
    merchant_client, account, other_account
):
    response = merchant_client.get(f"/api/v1/accounts/?organization={other_account.organization_id}")
    assert ids(response) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("verification_status=approved", "verification_status"),
        ("kind=bank", "kind"),
        ("organization=abc", "organization"),
        ("organization=0", "organization"),
        ("organization=1.5", "organization"),
        ("organization=99999999999999999999", "organization"),
        ("search=%00", "search"),
    ],
)
def test_accounts_list__bad_filter_value__is_400_problem_naming_it(
    merchant_client, account, query, parameter
):
    response = merchant_client.get(f"/api/v1/accounts/?{query}")
    assert_problem(response, 400, parameter)
    assert_documented(response, "/api/v1/accounts/", "get")


@pytest.mark.django_db
def test_miniprograms_and_links__bad_new_filters__are_400_naming_them(merchant_client):
    assert_problem(merchant_client.get("/api/v1/miniprograms/?organization=x"), 400, "organization")
    assert_problem(merchant_client.get("/api/v1/profile-links/?miniprogram=-1"), 400, "miniprogram")


# Ordering and cursor pages


@pytest.mark.django_db
def test_accounts_list__ordering__sorts_and_unknown_fields_are_400(merchant_client, merchant, organization):
    created = [
        factories.official_account(actor=merchant, organization=organization, platform_uid=f"66{number}")
        for number in range(3)
    ]
    newest_first = [account.pk for account in reversed(created)]
    assert ids(merchant_client.get("/api/v1/accounts/")) == newest_first
    assert ids(merchant_client.get("/api/v1/accounts/?ordering=created_at")) == newest_first[::-1]
    assert ids(merchant_client.get("/api/v1/accounts/?ordering=-created_at")) == newest_first
    # followers_count would tie across more rows than a cursor can page through: not offered
    assert_problem(merchant_client.get("/api/v1/accounts/?ordering=followers_count"), 400, "ordering")


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", ["", "id", "-created_at", "created_at"])
def test_accounts_list__cursor_pages__walk_every_row_once(staff_client, merchant, organization, ordering):
    # Given more accounts than fit on a page
    expected = {
        factories.official_account(actor=merchant, organization=organization, platform_uid=f"88{number}").pk
        for number in range(7)
    }
    # When a client follows `next` three rows at a time
    seen = walk(staff_client, f"/api/v1/accounts/?page_size=3&ordering={ordering}")
    # Then it sees every account exactly once
    assert len(seen) == len(expected) and set(seen) == expected


@pytest.mark.django_db
def test_accounts_list__previous_link__leads_back_to_the_first_page(merchant_client, merchant, organization):
    for number in range(5):
        factories.official_account(actor=merchant, organization=organization, platform_uid=f"99{number}")
    first = merchant_client.get("/api/v1/accounts/?page_size=2").json()
    second = merchant_client.get(first["next"]).json()
    back = merchant_client.get(second["previous"]).json()
    assert [item["id"] for item in back["results"]] == [item["id"] for item in first["results"]]


@pytest.mark.django_db
def test_accounts_list__forged_cursor__is_404_problem(merchant_client, account):
    cursor = base64.b64encode(b"p=not-a-number").decode()
    response = merchant_client.get(f"/api/v1/accounts/?cursor={cursor}")
    assert_problem(response, 404)
    assert_documented(response, "/api/v1/accounts/", "get")


@pytest.mark.django_db
def test_verticals_list__ordering_by_name_descending__sorts(merchant_client):
    response = merchant_client.get("/api/v1/verticals/?ordering=-name&page_size=200")
    names = [item["name"] for item in response.json()["results"]]
    assert names == sorted(names, reverse=True) and len(names) > 1


# Query counts


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(context.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("client_name", ["merchant_client", "staff_client"])
def test_accounts_list__more_rows__same_number_of_queries(request, merchant, organization, client_name):
    client = request.getfixturevalue(client_name)
    factories.official_account(actor=merchant, organization=organization)
    few = count_queries(client, "/api/v1/accounts/?search=Demo")
    for _number in range(10):
        factories.official_account(actor=merchant, organization=organization)
    assert count_queries(client, "/api/v1/accounts/?search=Demo") == few


# The OpenAPI description matches what the endpoints answer


@pytest.mark.django_db
def test_accounts_list__answer__is_as_documented(merchant_client, account):
    response = merchant_client.get("/api/v1/accounts/?ordering=created_at")
    assert response.json()["results"][0]["verified_at"] is None
    assert_documented(response, "/api/v1/accounts/", "get")
    assert_documented(merchant_client.get(f"/api/v1/accounts/{account.pk}/"), "/api/v1/accounts/{id}/", "get")


@pytest.mark.django_db
def test_register_and_token__answers__are_as_documented(api_client):
    # A username in another script: Django's \w takes it, and the documented schema must too.
    signed_up = api_client.post(
        "/api/v1/auth/register/",
        {
            "username": "Ⱥrin",
            "email": "erin@example.com",
            "password": factories.DEFAULT_PASSWORD,
            "organization_name": "Erin Travel",
            "organization_kind": "enterprise",
        },
        format="json",
    )
    assert signed_up.status_code == 201, signed_up.content
    assert_documented(signed_up, "/api/v1/auth/register/", "post")
    token = api_client.post(
        "/api/v1/auth/token/", {"username": "Ⱥrin", "password": factories.DEFAULT_PASSWORD}, format="json"
    )
    assert token.status_code == 200 and token.json()["token"]
    assert_documented(token, "/api/v1/auth/token/", "post")
    refused = api_client.post("/api/v1/auth/token/", {"username": "Ⱥrin", "password": "wrong"}, format="json")
    assert_problem(refused, 400)
    assert_documented(refused, "/api/v1/auth/token/", "post")


@pytest.mark.django_db
def test_bulk_upsert__answer_with_created_and_rejected_rows__is_as_documented(staff_client, policy):
    response = staff_client.post(
        "/api/v1/accounts/bulk-upsert/",
        {
            "accounts": [
                {
                    "platform_uid": "4000000001",
                    "screen_name": "Directory Row",
                    "kind": "enterprise",
                    "vertical": "commerce",
                    "followers_count": 10,
                    "organization_name": "Directory Co",
                    "organization_kind": "enterprise",
                },
                "not an object",
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["rejected"], body["results"][1]["account"]) == (1, 1, None)
    assert_documented(response, "/api/v1/accounts/bulk-upsert/", "post")


@pytest.mark.django_db
def test_account_verify__answer__is_as_documented(staff_client, account):
    response = staff_client.post(f"/api/v1/accounts/{account.pk}/verify/")
    assert response.json()["verification_status"] == "verified"
    assert_documented(response, "/api/v1/accounts/{id}/verify/", "post")


@pytest.mark.django_db
def test_account_create__vertical_with_a_nul_byte__is_400_naming_it(merchant_client):
    # PostgreSQL refuses NUL in text: the lookup must not reach it.
    response = merchant_client.post(
        "/api/v1/accounts/",
        {
            "platform_uid": "3000000009",
            "screen_name": "Nul",
            "kind": "enterprise",
            "vertical": "com\x00merce",
        },
        format="json",
    )
    assert_problem(response, 400, "vertical")
    assert_documented(response, "/api/v1/accounts/", "post")
