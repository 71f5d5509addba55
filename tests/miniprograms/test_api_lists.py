"""The mini programs API's lists (filters, ordering, the shares list, query counts) and its OpenAPI
description of every answer."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.profile_cache import profile_forget
from accounts.scopes import Scope
from integrations.services import api_key_issue
from miniprograms import services
from tests.api_contract import assert_documented, assert_problem, ids, walk
from tests.uploads import PNG
from whitelist import services as whitelist_services
from whitelist.models import WhitelistEntry


@pytest.fixture(autouse=True)
def database_quota(settings):
    # Shares are counted in PostgreSQL: Redis counters would outlive the rolled-back test data.
    settings.SHARE_QUOTA_BACKEND = "database"


@pytest.fixture
def live_link(pending_link, staff):
    link = services.profile_link_approve(actor=staff, link=pending_link)
    entry = WhitelistEntry.objects.get(account=link.account)
    whitelist_services.whitelist_entry_set_share_limit(actor=staff, entry=entry, share_limit_per_hour=100)
    return link


@pytest.fixture
def other_live_link(other_link, staff):
    return services.profile_link_approve(actor=staff, link=other_link)


def share(user, link):
    recorded, _state, _replayed = services.share_record(
        actor=user, miniprogram=link.miniprogram, account=link.account
    )
    return recorded


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(context.captured_queries)


# Mini programs and profile links


@pytest.mark.django_db
def test_miniprograms_list__search_and_organization__narrow_the_list(
    staff_client, make_miniprogram, other_miniprogram, organization
):
    burgers = make_miniprogram("2021000000000001", name="Burger Order")
    tea = make_miniprogram("2021000000000002", name="Tea Time")
    assert ids(staff_client.get("/api/v1/miniprograms/?search=burger")) == [burgers.pk]
    assert ids(staff_client.get("/api/v1/miniprograms/?search=2021000000000002")) == [tea.pk]
    assert ids(staff_client.get(f"/api/v1/miniprograms/?organization={organization.pk}")) == [
        tea.pk,
        burgers.pk,
    ]
    assert ids(
        staff_client.get(f"/api/v1/miniprograms/?organization={other_miniprogram.organization_id}")
    ) == [other_miniprogram.pk]


@pytest.mark.django_db
def test_miniprograms_list__ordering_by_name__sorts_and_keeps_the_page_count(
    merchant_client, make_miniprogram
):
    tea = make_miniprogram("2021000000000001", name="Tea Time")
    burgers = make_miniprogram("2021000000000002", name="Burger Order")
    response = merchant_client.get("/api/v1/miniprograms/?ordering=name")
    assert ids(response) == [burgers.pk, tea.pk]
    assert response.json()["count"] == 2
    assert ids(merchant_client.get("/api/v1/miniprograms/?ordering=-name")) == [tea.pk, burgers.pk]
    assert_documented(response, "/api/v1/miniprograms/", "get")


@pytest.mark.django_db
def test_profile_links_list__miniprogram_filter_and_position_ordering(
    merchant, merchant_client, make_miniprogram, pending_link, listed_account
):
    second = services.profile_link_request(
        actor=merchant, miniprogram=make_miniprogram("2021000000000002"), account=listed_account
    )
    assert ids(merchant_client.get(f"/api/v1/profile-links/?miniprogram={second.miniprogram_id}")) == [
        second.pk
    ]
    response = merchant_client.get("/api/v1/profile-links/?ordering=position")
    assert ids(response) == [pending_link.pk, second.pk]
    assert_documented(response, "/api/v1/profile-links/", "get")


@pytest.mark.django_db
def test_miniprograms_and_links_lists__more_rows__same_number_of_queries(
    merchant, merchant_client, make_miniprogram, listed_account
):
    def add(number: int) -> None:
        miniprogram = make_miniprogram(f"20210000000{number:05d}")
        services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=listed_account)

    add(1)
    few = [count_queries(merchant_client, url) for url in ("/api/v1/miniprograms/", "/api/v1/profile-links/")]
    for number in range(2, 9):
        add(number)
    many = [
        count_queries(merchant_client, url) for url in ("/api/v1/miniprograms/", "/api/v1/profile-links/")
    ]
    assert many == few


# The shares list


@pytest.mark.django_db
def test_shares_list__merchant__sees_only_its_organizations_shares(
    merchant, other_merchant, merchant_client, staff_client, live_link, other_live_link
):
    # Given a share of each merchant
    mine = share(merchant, live_link)
    theirs = share(other_merchant, other_live_link)
    # Then each merchant sees its own, and staff see both
    response = merchant_client.get("/api/v1/shares/")
    assert ids(response) == [mine.pk]
    assert ids(staff_client.get("/api/v1/shares/")) == [theirs.pk, mine.pk]
    assert ids(merchant_client.get(f"/api/v1/shares/?account={other_live_link.account_id}")) == []


@pytest.mark.django_db
def test_shares_list__body__has_the_share_fields_and_no_count(merchant, merchant_client, live_link):
    made = share(merchant, live_link)
    response = merchant_client.get("/api/v1/shares/")
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert body["results"] == [
        {
            "id": made.pk,
            "account": live_link.account_id,
            "miniprogram": live_link.miniprogram_id,
            "slot": 1,
            "limit": 100,
            "window_start": body["results"][0]["window_start"],
            "created_at": body["results"][0]["created_at"],
        }
    ]
    assert body["results"][0]["window_start"].endswith(":00:00Z")
    assert_documented(response, "/api/v1/shares/", "get")


@pytest.mark.django_db
def test_shares_list__filters__narrow_the_list(
    merchant, staff, merchant_client, make_miniprogram, live_link, listed_account
):
    # Given a share before a moment and two after it, one for another mini program
    first = share(merchant, live_link)
    moment = timezone.now()
    second_link = services.profile_link_approve(
        actor=staff,
        link=services.profile_link_request(
            actor=merchant, miniprogram=make_miniprogram("2021000000000002"), account=listed_account
        ),
    )
    second = share(merchant, second_link)
    third = share(merchant, live_link)
    after = moment.isoformat().replace("+00:00", "Z")

    # Then each filter keeps only the shares it names
    assert ids(merchant_client.get(f"/api/v1/shares/?miniprogram={second_link.miniprogram_id}")) == [
        second.pk
    ]
    assert ids(merchant_client.get(f"/api/v1/shares/?account={listed_account.pk}")) == [
        third.pk,
        second.pk,
        first.pk,
    ]
    assert ids(merchant_client.get("/api/v1/shares/", {"created_after": after})) == [third.pk, second.pk]
    assert ids(merchant_client.get("/api/v1/shares/", {"created_before": after})) == [first.pk]
    assert ids(
        merchant_client.get(
            "/api/v1/shares/", {"created_after": after, "miniprogram": live_link.miniprogram_id}
        )
    ) == [third.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("created_after=yesterday", "created_after"),
        ("created_before=2025-13-01T00:00:00Z", "created_before"),
        ("created_after=0001-01-01T00:00:00%2B01:00", "created_after"),
        ("account=abc", "account"),
        ("miniprogram=0", "miniprogram"),
    ],
)
def test_shares_list__bad_filter_value__is_400_problem_naming_it(merchant_client, query, parameter):
    response = merchant_client.get(f"/api/v1/shares/?{query}")
    assert_problem(response, 400, parameter)
    assert_documented(response, "/api/v1/shares/", "get")


@pytest.mark.django_db
def test_shares_list__time_with_an_offset_postgresql_refuses__is_compared_in_utc(
    merchant, merchant_client, live_link
):
    made = share(merchant, live_link)
    # -18:00 is valid ISO 8601 but beyond PostgreSQL's ±15:59.
    response = merchant_client.get("/api/v1/shares/", {"created_before": "9000-01-01T00:00:00-18:00"})
    assert ids(response) == [made.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", ["", "created_at", "-created_at", "id"])
def test_shares_list__cursor_pages__walk_every_share_once(merchant, staff_client, live_link, ordering):
    expected = {share(merchant, live_link).pk for _number in range(7)}
    seen = walk(staff_client, f"/api/v1/shares/?page_size=3&ordering={ordering}")
    assert len(seen) == len(expected) and set(seen) == expected


@pytest.mark.django_db
def test_shares_list__ordering__oldest_first_on_request(merchant, merchant_client, live_link):
    made = [share(merchant, live_link).pk for _number in range(3)]
    assert ids(merchant_client.get("/api/v1/shares/")) == made[::-1]
    assert ids(merchant_client.get("/api/v1/shares/?ordering=created_at")) == made


@pytest.mark.django_db
def test_shares_list__more_rows__same_number_of_queries(merchant, merchant_client, live_link):
    share(merchant, live_link)
    few = count_queries(merchant_client, "/api/v1/shares/")
    for _number in range(10):
        share(merchant, live_link)
    assert count_queries(merchant_client, "/api/v1/shares/") == few


@pytest.mark.django_db
def test_shares_list__api_key__is_403(staff, live_link):
    _key, secret = api_key_issue(actor=staff, name="partner", scopes=[Scope.SHARES_WRITE])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    response = client.get("/api/v1/shares/")
    assert_problem(response, 403)
    assert_documented(response, "/api/v1/shares/", "get")


@pytest.mark.django_db
def test_shares_list__anonymous__is_401(api_client):
    assert_problem(api_client.get("/api/v1/shares/"), 401)


# The OpenAPI description matches what the endpoints answer


@pytest.mark.django_db
def test_share_create__every_answer__is_as_documented(
    pinned_hour, merchant, staff, merchant_client, live_link
):
    path = "/api/v1/miniprograms/{id}/shares/"
    url = f"/api/v1/miniprograms/{live_link.miniprogram_id}/shares/"
    body = {"account": live_link.account_id}

    created = merchant_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert created.status_code == 201, created.content
    assert_documented(created, path, "post")
    replayed = merchant_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert replayed["Idempotent-Replayed"] == "true"
    assert_documented(replayed, path, "post")

    too_long = merchant_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert_problem(too_long, 400, "Idempotency-Key")
    assert_documented(too_long, path, "post")

    entry = WhitelistEntry.objects.get(account=live_link.account)
    whitelist_services.whitelist_entry_set_share_limit(actor=staff, entry=entry, share_limit_per_hour=1)
    refused = merchant_client.post(url, body, format="json")
    assert_problem(refused, 429)
    assert int(refused["Retry-After"]) >= 1
    assert_documented(refused, path, "post")

    services.profile_link_unlink(actor=merchant, link=live_link)
    not_live = merchant_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert_problem(not_live, 409)
    assert_documented(not_live, path, "post")


@pytest.mark.django_db
def test_share_create__key_reused_for_another_request__is_documented_422(
    pinned_hour, merchant, staff, merchant_client, live_link, make_miniprogram
):
    other = make_miniprogram("2021000000000777", name="Second")
    services.profile_link_approve(
        actor=staff,
        link=services.profile_link_request(actor=merchant, miniprogram=other, account=live_link.account),
    )
    body = {"account": live_link.account_id}
    merchant_client.post(
        f"/api/v1/miniprograms/{live_link.miniprogram_id}/shares/",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    response = merchant_client.post(
        f"/api/v1/miniprograms/{other.pk}/shares/", body, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert_problem(response, 422, "Idempotency-Key")
    assert_documented(response, "/api/v1/miniprograms/{id}/shares/", "post")


@pytest.mark.django_db
def test_quota__answer__is_as_documented(merchant, merchant_client, live_link):
    share(merchant, live_link)
    response = merchant_client.get(f"/api/v1/accounts/{live_link.account_id}/quota/")
    assert (response.json()["used"], response.json()["remaining"]) == (1, 99)
    assert_documented(response, "/api/v1/accounts/{id}/quota/", "get")


@pytest.mark.django_db
def test_profile__answers__are_as_documented(api_client, live_link, account):
    path = "/api/v1/profiles/{platform}/{platform_uid}/miniprograms/"
    # The profile cache lives in Redis, beyond the rolled-back test data.
    profile_forget([("weibo", live_link.account.platform_uid), ("weibo", account.platform_uid)])
    shown = api_client.get(f"/api/v1/profiles/weibo/{live_link.account.platform_uid}/miniprograms/")
    assert shown.json()["whitelisted"] is True and shown.json()["miniprograms"][0]["icon_url"] is None
    assert_documented(shown, path, "get")
    not_whitelisted = api_client.get(f"/api/v1/profiles/weibo/{account.platform_uid}/miniprograms/")
    assert not_whitelisted.json() == {"whitelisted": False, "miniprograms": []}
    assert_documented(not_whitelisted, path, "get")
    unknown = api_client.get("/api/v1/profiles/weibo/no-such-uid/miniprograms/")
    assert_problem(unknown, 404)
    assert_documented(unknown, path, "get")


@pytest.mark.django_db
def test_miniprogram_writes__answers__are_as_documented(merchant_client, miniprogram):
    path = "/api/v1/miniprograms/{id}/"
    created = merchant_client.post(
        "/api/v1/miniprograms/",
        {"app_id": "2021000000000005", "name": "Noodles", "category": "business"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert_documented(created, "/api/v1/miniprograms/", "post")
    icon = merchant_client.put(
        f"/api/v1/miniprograms/{miniprogram.pk}/icon/",
        {"icon": SimpleUploadedFile("icon.png", PNG, content_type="image/png")},
        format="multipart",
    )
    assert icon.status_code == 200 and icon.json()["icon_url"]
    assert_documented(icon, "/api/v1/miniprograms/{id}/icon/", "put")
    not_multipart = merchant_client.put(f"/api/v1/miniprograms/{miniprogram.pk}/icon/", {}, format="json")
    assert_problem(not_multipart, 415)
    assert_documented(not_multipart, "/api/v1/miniprograms/{id}/icon/", "put")
    delisted = merchant_client.post(f"/api/v1/miniprograms/{miniprogram.pk}/delist/", {}, format="json")
    assert_documented(delisted, "/api/v1/miniprograms/{id}/delist/", "post")
    conflict = merchant_client.patch(f"/api/v1/miniprograms/{miniprogram.pk}/", {"name": "X"}, format="json")
    assert_problem(conflict, 409)
    assert_documented(conflict, path, "patch")


@pytest.mark.django_db
def test_profile_link_transitions__answers__are_as_documented(staff_client, merchant_client, pending_link):
    approved = staff_client.post(f"/api/v1/profile-links/{pending_link.pk}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.content
    assert_documented(approved, "/api/v1/profile-links/{id}/approve/", "post")
    again = staff_client.post(
        f"/api/v1/profile-links/{pending_link.pk}/reject/", {"reason": "No"}, format="json"
    )
    assert_problem(again, 409)
    assert_documented(again, "/api/v1/profile-links/{id}/reject/", "post")
    unlinked = merchant_client.post(f"/api/v1/profile-links/{pending_link.pk}/unlink/", {}, format="json")
    assert unlinked.json()["state"] == "unlinked"
    assert_documented(unlinked, "/api/v1/profile-links/{id}/unlink/", "post")
