"""The whitelist API's lists (filters, search, ordering, cursor pages, query counts) and OpenAPI shapes."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tests import factories, uploads
from tests.api_contract import assert_documented, assert_problem, ids
from whitelist import services
from whitelist.models import WhitelistApplication, WhitelistEntry

EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 5,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering"],
    "support_channels": ["400-800-1234"],
}


def apply(
    merchant, organization, *, screen_name: str = "Shop", platform_uid: str | None = None, verified_by=None
):
    """A draft application for a new account of the organization, made by the services."""
    account = factories.official_account(
        actor=merchant,
        organization=organization,
        screen_name=screen_name,
        platform_uid=platform_uid,
        verified_by=verified_by,
    )
    return services.application_create(actor=merchant, account=account, data=EVIDENCE)


def submit(merchant, application: WhitelistApplication) -> WhitelistApplication:
    return services.application_submit(actor=merchant, application=application)


def approved_entry(merchant, organization, reviewer, **account) -> WhitelistEntry:
    """An entry granted by approving an application of a new account that the reviewer verified."""
    application = submit(merchant, apply(merchant, organization, verified_by=reviewer, **account))
    services.application_approve(actor=reviewer, application=application)
    return WhitelistEntry.objects.get(account_id=application.account_id)


def walk(client: APIClient, url: str) -> tuple[list[int], int]:
    """Follow `next` from the first page to the last: every id seen, and the number of pages."""
    seen: list[int] = []
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
        pages += 1
    return seen, pages


def query_count(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries.captured_queries)


@pytest.fixture
def other_organization(other_merchant_and_org):
    return other_merchant_and_org[1]


@pytest.fixture
def other_client(other_merchant) -> APIClient:
    client = APIClient()
    client.force_authenticate(other_merchant)
    return client


# Applications: filters and search


@pytest.mark.django_db
def test_applications__state_filter__lists_only_that_state(merchant_client, merchant, organization, policy):
    # Given a draft and a submitted application
    draft = apply(merchant, organization)
    submitted = submit(merchant, apply(merchant, organization))
    # When the merchant filters by state
    # Then each state lists only its application, no filter lists both, and an empty value (not a
    # state the OpenAPI description allows) is a 400 naming the filter
    assert ids(merchant_client.get("/api/v1/applications/?state=submitted")) == [submitted.pk]
    assert ids(merchant_client.get("/api/v1/applications/?state=draft")) == [draft.pk]
    assert ids(merchant_client.get("/api/v1/applications/")) == [submitted.pk, draft.pk]
    assert_problem(merchant_client.get("/api/v1/applications/?state="), 400, "state")


@pytest.mark.django_db
def test_applications__account_and_organization_filters__narrow_results(
    merchant_client, staff_client, merchant, organization, other_merchant, other_organization
):
    mine = apply(merchant, organization)
    also_mine = apply(merchant, organization)
    theirs = apply(other_merchant, other_organization)

    assert ids(merchant_client.get(f"/api/v1/applications/?account={mine.account_id}")) == [mine.pk]
    assert ids(staff_client.get(f"/api/v1/applications/?organization={other_organization.pk}")) == [theirs.pk]
    assert ids(staff_client.get(f"/api/v1/applications/?organization={organization.pk}")) == [
        also_mine.pk,
        mine.pk,
    ]


@pytest.mark.django_db
def test_applications__submitted_after_and_before__split_at_the_instant(
    merchant_client, merchant, organization, policy
):
    # Given one application submitted before an instant and one after, and a draft never submitted
    earlier = submit(merchant, apply(merchant, organization))
    instant = timezone.now()
    later = submit(merchant, apply(merchant, organization))
    apply(merchant, organization)
    stamp = instant.isoformat().replace("+00:00", "Z")
    # Then each side of the instant lists its application; the draft is on neither side
    assert ids(merchant_client.get("/api/v1/applications/", {"submitted_after": stamp})) == [later.pk]
    assert ids(merchant_client.get("/api/v1/applications/", {"submitted_before": stamp})) == [earlier.pk]
    # An offset other than UTC names the same instant
    shifted = instant.astimezone(timezone.get_fixed_timezone(8 * 60)).isoformat()
    assert ids(merchant_client.get("/api/v1/applications/", {"submitted_after": shifted})) == [later.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "expected"),
    [("burger", "burgers"), ("BURGER", "burgers"), ("7700", "noodles"), ("house", None)],
)
def test_applications__search__matches_screen_name_or_platform_uid_in_any_case(
    merchant_client, merchant, organization, term, expected
):
    found = {
        "burgers": apply(merchant, organization, screen_name="Alice Burgers", platform_uid="3300000001"),
        "noodles": apply(merchant, organization, screen_name="Noodle Bar", platform_uid="3377000002"),
    }
    assert ids(merchant_client.get("/api/v1/applications/", {"search": term})) == (
        [found[expected].pk] if expected else []
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("state=approvedish", "state"),
        ("account=abc", "account"),
        ("account=1.5", "account"),
        ("account=0", "account"),
        ("account=99999999999999999999", "account"),
        ("organization=x", "organization"),
        ("submitted_after=yesterday", "submitted_after"),
        ("submitted_before=2026-13-01T00:00:00Z", "submitted_before"),
        ("submitted_after=9999-12-31T23:59:59-23:00", "submitted_after"),
        ("search=a%00b", "search"),
        ("ordering=password", "ordering"),
        ("ordering=id,-secret", "ordering"),
        ("ordering=account__screen_name", "ordering"),
    ],
)
def test_applications__bad_filter_value__is_400_naming_the_parameter(merchant_client, query, parameter):
    response = merchant_client.get(f"/api/v1/applications/?{query}")
    assert_problem(response, 400, parameter)
    assert_documented(response, "/api/v1/applications/")


# Applications: ordering


@pytest.mark.django_db
def test_applications__ordering__sorts_by_the_named_fields_newest_first_by_default(
    merchant_client, merchant, organization, policy
):
    # Given A submitted after B although created first, and a draft C never submitted
    first = apply(merchant, organization)
    second = submit(merchant, apply(merchant, organization))
    first = submit(merchant, first)
    third = apply(merchant, organization)

    assert ids(merchant_client.get("/api/v1/applications/")) == [third.pk, second.pk, first.pk]
    assert ids(merchant_client.get("/api/v1/applications/?ordering=id")) == [first.pk, second.pk, third.pk]
    # Unsubmitted applications sort last going up (PostgreSQL puts NULL last)
    assert ids(merchant_client.get("/api/v1/applications/?ordering=submitted_at")) == [
        second.pk,
        first.pk,
        third.pk,
    ]
    assert ids(merchant_client.get("/api/v1/applications/?ordering=-submitted_at,id")) == [
        third.pk,
        first.pk,
        second.pk,
    ]


@pytest.mark.django_db
def test_applications__ordering_by_equal_values__pages_never_overlap(merchant_client, merchant, organization):
    # Given five drafts that all have no submitted_at
    created = {apply(merchant, organization).pk for _ in range(5)}
    # When paging two at a time by a field they share
    seen: list[int] = []
    for page in (1, 2, 3):
        seen += ids(
            merchant_client.get(f"/api/v1/applications/?ordering=submitted_at&page_size=2&page={page}")
        )
    # Then the id breaks the ties: every application once
    assert sorted(seen) == sorted(created)


# Entries: filters and ordering


@pytest.fixture
def two_entries(merchant, organization, staff, policy):
    """A suspended entry valid for 365 days, then an active one valid for 30 (policy v2)."""
    long_entry = approved_entry(merchant, organization, staff)
    long_entry = services.whitelist_entry_suspend(actor=staff, entry=long_entry, reason="Spam reports.")
    short_policy = services.policy_create_version(
        actor=staff, data={"entry_validity_days": 30}, open_verticals=None
    )
    services.policy_activate(actor=staff, policy=short_policy)
    short_entry = approved_entry(merchant, organization, staff)
    return long_entry, short_entry


@pytest.mark.django_db
def test_entries__filters__narrow_by_state_account_and_validity(merchant_client, two_entries):
    long_entry, short_entry = two_entries
    in_100_days = (timezone.now() + timedelta(days=100)).isoformat()

    assert ids(merchant_client.get("/api/v1/whitelist-entries/?state=suspended")) == [long_entry.pk]
    assert ids(merchant_client.get("/api/v1/whitelist-entries/?state=active")) == [short_entry.pk]
    assert ids(merchant_client.get(f"/api/v1/whitelist-entries/?account={long_entry.account_id}")) == [
        long_entry.pk
    ]
    assert ids(merchant_client.get("/api/v1/whitelist-entries/", {"valid_until_before": in_100_days})) == [
        short_entry.pk
    ]
    assert ids(merchant_client.get("/api/v1/whitelist-entries/", {"valid_until_after": in_100_days})) == [
        long_entry.pk
    ]


@pytest.mark.django_db
def test_entries__ordering__by_valid_until_both_ways(merchant_client, two_entries):
    long_entry, short_entry = two_entries
    assert ids(merchant_client.get("/api/v1/whitelist-entries/?ordering=valid_until")) == [
        short_entry.pk,
        long_entry.pk,
    ]
    assert ids(merchant_client.get("/api/v1/whitelist-entries/?ordering=-valid_until")) == [
        long_entry.pk,
        short_entry.pk,
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("state=paused", "state"),
        ("account=abc", "account"),
        ("valid_until_before=soon", "valid_until_before"),
        ("valid_until_after=2026-02-30T00:00:00Z", "valid_until_after"),
        ("ordering=share_limit_per_hour", "ordering"),
    ],
)
def test_entries__bad_filter_value__is_400_naming_the_parameter(merchant_client, query, parameter):
    response = merchant_client.get(f"/api/v1/whitelist-entries/?{query}")
    assert_problem(response, 400, parameter)
    assert_documented(response, "/api/v1/whitelist-entries/")


# Events: cursor pages


@pytest.fixture
def timeline(merchant, organization, staff, policy) -> tuple[WhitelistApplication, list[int], list[int]]:
    """A submitted application with 21 applicant-visible events and 10 staff-only notes.

    Returns the application, the ids applicants see and the ids staff see, newest first.
    """
    application = submit(merchant, apply(merchant, organization))
    for number in range(19):
        services.application_note(
            actor=staff,
            application=application,
            message=f"Note {number}",
            visible_to_applicant=number % 2 == 0,
        )
    application.refresh_from_db()
    events = application.events.order_by("-id")
    applicant_ids = list(events.filter(visible_to_applicant=True).values_list("id", flat=True))
    staff_ids = list(events.values_list("id", flat=True))
    assert (len(applicant_ids), len(staff_ids)) == (12, 21)
    return application, applicant_ids, staff_ids


@pytest.mark.django_db
def test_events__cursor__walks_every_event_once_newest_first(merchant_client, staff_client, timeline):
    application, applicant_ids, staff_ids = timeline
    url = f"/api/v1/applications/{application.pk}/events/?page_size=5"

    seen, pages = walk(staff_client, url)
    assert seen == staff_ids
    assert pages == 5

    seen, _ = walk(merchant_client, url)
    assert seen == applicant_ids


@pytest.mark.django_db
def test_events__ordering_by_id__walks_oldest_first(staff_client, timeline):
    application, _, staff_ids = timeline
    seen, _ = walk(staff_client, f"/api/v1/applications/{application.pk}/events/?page_size=4&ordering=id")
    assert seen == list(reversed(staff_ids))


@pytest.mark.django_db
def test_events__new_event_during_the_walk__no_duplicates_and_none_missed(staff_client, staff, timeline):
    application, _, staff_ids = timeline
    first = staff_client.get(f"/api/v1/applications/{application.pk}/events/?page_size=6").json()
    # When an event is added between two pages
    services.application_note(actor=staff, application=application, message="Late note")
    rest, _ = walk(staff_client, first["next"])
    # Then the walk still sees every event that was there, once
    seen = [event["id"] for event in first["results"]] + rest
    assert seen == staff_ids


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "parameter"), [("ordering=message", "ordering"), ("ordering=-actor", "ordering")]
)
def test_events__bad_ordering__is_400_naming_the_parameter(staff_client, timeline, query, parameter):
    application, _, _ = timeline
    response = staff_client.get(f"/api/v1/applications/{application.pk}/events/?{query}")
    assert_problem(response, 400, parameter)


@pytest.mark.django_db
def test_events__forged_cursor__is_404_problem(staff_client, timeline):
    application, _, _ = timeline
    response = staff_client.get(f"/api/v1/applications/{application.pk}/events/?cursor=garbage")
    assert_problem(response, 404)
    assert_documented(response, "/api/v1/applications/{id}/events/")


# Another organization's rows


@pytest.mark.django_db
def test_lists__other_organization__never_shows_its_rows_whatever_the_filters(
    other_client, merchant, organization, staff, policy
):
    # Given an organization with an application, its events and an approved entry
    entry = approved_entry(merchant, organization, staff, screen_name="Alice Burgers")
    application = entry.application
    # When another merchant lists, filtering straight at them
    queries = [
        "",
        f"?account={entry.account_id}",
        f"?organization={organization.pk}",
        "?search=Alice",
        "?state=approved",
    ]
    for query in queries:
        assert ids(other_client.get(f"/api/v1/applications/{query}")) == []
    for query in ["", f"?account={entry.account_id}", "?state=active"]:
        assert ids(other_client.get(f"/api/v1/whitelist-entries/{query}")) == []
    # Then nothing shows, and the application's own lists are 404
    assert_problem(other_client.get(f"/api/v1/applications/{application.pk}/events/"), 404)
    assert_problem(other_client.get(f"/api/v1/applications/{application.pk}/attachments/"), 404)


# Query counts


@pytest.mark.django_db
def test_applications_list__more_rows__same_query_count(
    merchant_client, staff_client, merchant, organization, policy
):
    for _ in range(2):
        submit(merchant, apply(merchant, organization))
    as_merchant = query_count(merchant_client, "/api/v1/applications/")
    as_staff = query_count(staff_client, "/api/v1/applications/")
    for _ in range(5):
        submit(merchant, apply(merchant, organization))
    apply(merchant, organization)
    assert query_count(merchant_client, "/api/v1/applications/") == as_merchant
    assert query_count(staff_client, "/api/v1/applications/") == as_staff


@pytest.mark.django_db
def test_entries_list__more_rows__same_query_count(merchant_client, merchant, organization, staff, policy):
    approved_entry(merchant, organization, staff)
    before = query_count(merchant_client, "/api/v1/whitelist-entries/")
    for _ in range(4):
        approved_entry(merchant, organization, staff)
    assert query_count(merchant_client, "/api/v1/whitelist-entries/") == before


@pytest.mark.django_db
def test_events_list__more_rows__same_query_count(
    merchant_client, staff_client, merchant, organization, staff, policy
):
    application = submit(merchant, apply(merchant, organization))
    url = f"/api/v1/applications/{application.pk}/events/"
    as_merchant = query_count(merchant_client, url)
    as_staff = query_count(staff_client, url)
    for number in range(8):
        services.application_note(
            actor=staff, application=application, message=f"Note {number}", visible_to_applicant=True
        )
    services.application_request_changes(actor=staff, application=application, message="Add contracts.")
    assert query_count(merchant_client, url) == as_merchant
    assert query_count(staff_client, url) == as_staff


# Answers as documented


@pytest.mark.django_db
def test_lists__answers_match_their_openapi_description(
    merchant_client, staff_client, merchant, organization, staff, policy
):
    entry = approved_entry(merchant, organization, staff)
    application = entry.application
    services.application_note(
        actor=staff, application=application, message="Checked.", visible_to_applicant=True
    )

    assert_documented(
        merchant_client.get("/api/v1/applications/?ordering=-submitted_at"), "/api/v1/applications/"
    )
    assert_documented(
        merchant_client.get(f"/api/v1/applications/{application.pk}/events/?page_size=1"),
        "/api/v1/applications/{id}/events/",
    )
    assert_documented(
        staff_client.get("/api/v1/whitelist-entries/?state=active"), "/api/v1/whitelist-entries/"
    )


@pytest.mark.django_db
def test_lookup__with_and_without_entry__matches_its_openapi_description(
    account, merchant, organization, staff, policy
):
    entry = approved_entry(merchant, organization, staff, platform_uid="3900000001")
    without = APIClient().get(f"/api/v1/whitelist/weibo/{account.platform_uid}/")
    with_entry = APIClient().get("/api/v1/whitelist/weibo/3900000001/")

    assert without.json()["state"] is None
    assert with_entry.json()["share_limit_per_hour"] == entry.share_limit_per_hour
    for response in (without, with_entry):
        assert_documented(response, "/api/v1/whitelist/{platform}/{platform_uid}/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/whitelist/weibo/%00/", "/api/v1/whitelist/%00/1/", "/api/v1/whitelist/x/1/"]
)
def test_lookup__values_no_account_can_have__is_404_problem(path):
    response = APIClient().get(path)
    assert_problem(response, 404)


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["application/pdf", "text/html", "*/*"])
def test_download__any_accept_header__is_the_file_as_documented(
    merchant_client, merchant, organization, accept
):
    application = apply(merchant, organization)
    attachment = services.application_attachment_add(
        actor=merchant,
        application=application,
        uploaded=SimpleUploadedFile("licence.pdf", uploads.PDF, content_type="application/pdf"),
    )
    url = f"/api/v1/applications/{application.pk}/attachments/{attachment.pk}/"

    response = merchant_client.get(url, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert_documented(response, "/api/v1/applications/{id}/attachments/{attachment_id}/")

    missing = merchant_client.get(f"{url[:-1]}0/", HTTP_ACCEPT=accept)
    assert_problem(missing, 404)


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["no\x00such", "x" * 51])
def test_reject__reason_code_no_code_can_be__is_400_on_reason_code(
    staff_client, merchant, organization, policy, code
):
    application = submit(merchant, apply(merchant, organization))
    response = staff_client.post(
        f"/api/v1/applications/{application.pk}/reject/", {"reason_code": code}, format="json"
    )
    assert_problem(response, 400, "reason_code")


@pytest.mark.django_db
def test_patch__product_without_name__is_400_naming_the_nested_field(merchant_client, merchant, organization):
    application = apply(merchant, organization)
    response = merchant_client.patch(
        f"/api/v1/applications/{application.pk}/",
        {"self_developed_products": [{"url": "https://apps.example.com/a"}]},
        format="json",
    )
    assert_problem(response, 400, "self_developed_products.0.name")
    application.refresh_from_db()
    assert application.self_developed_products == EVIDENCE["self_developed_products"]
