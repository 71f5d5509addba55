"""The admin's changelists over large tables: PostgreSQL's row estimate unfiltered, exact counts filtered."""

import itertools
import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AccountKind, OfficialAccount, Organization, User
from integrations.models import WebhookDelivery
from miniprograms.models import MiniProgram, ProfileLink, Share, ShareQuota, ShareWindowUsage
from portal.admin_pagination import EstimatedCountPaginator, round_estimate, table_row_estimate
from tests import factories
from whitelist.models import ReviewEvent, WhitelistApplication, WhitelistEntry

ACCOUNTS_URL = reverse("admin:accounts_officialaccount_changelist")
LARGE_TABLES = [
    OfficialAccount,
    Organization,
    WhitelistApplication,
    WhitelistEntry,
    ReviewEvent,
    MiniProgram,
    ProfileLink,
    Share,
    ShareQuota,
    ShareWindowUsage,
    WebhookDelivery,
]


@pytest.fixture
def never_analyzed(postgres: None) -> None:
    """The accounts' table as PostgreSQL sees it before any ANALYZE: no estimate (reltuples -1).

    TRUNCATE gives the table fresh statistics inside the test's transaction, so an ANALYZE run
    afterwards is rolled back with the test (on its own, ANALYZE updates pg_class for good).
    Requested before any fixture that writes rows.
    """
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE accounts_officialaccount CASCADE")


@pytest.fixture
def staff_web(client, db):  # type: ignore[no-untyped-def]
    superuser = User.objects.create_superuser("root", "root@platform.example", "admin-pass-123456")
    client.force_login(superuser)
    return client


@pytest.fixture
def low_threshold(monkeypatch: pytest.MonkeyPatch) -> int:
    """A dozen rows count as a large table, so a test need not write ten thousand."""
    monkeypatch.setattr(EstimatedCountPaginator, "exact_count_below", 10)
    return 10


_owners = itertools.count(1)


def make_accounts(number: int, *, kind: str = AccountKind.ENTERPRISE) -> None:
    merchant, organization = factories.merchant_register(f"owner{next(_owners)}")
    for _ in range(number):
        factories.official_account(actor=merchant, organization=organization, kind=kind)


def analyze_accounts() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_officialaccount")


def counts_over_accounts(captured: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in captured.captured_queries
        if "COUNT(" in query["sql"].upper() and '"accounts_officialaccount"' in query["sql"]
    ]


def paginator_text(html: str) -> str:
    match = re.search(r'<p class="paginator">(.*?)</p>', html, re.DOTALL)
    assert match, "the changelist has no paginator"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def test_unfiltered_list__analyzed_large_table__shows_the_estimate_without_counting(
    never_analyzed, staff_web, low_threshold, monkeypatch
):
    # Given more accounts than the threshold, analyzed, on three pages
    make_accounts(24, kind=AccountKind.ENTERPRISE)
    make_accounts(6, kind=AccountKind.GOVERNMENT)
    analyze_accounts()
    monkeypatch.setattr(admin.site._registry[OfficialAccount], "list_per_page", 10)
    # When staff open the unfiltered list
    with CaptureQueriesContext(connection) as captured:
        response = staff_web.get(ACCOUNTS_URL)
    # Then the count is PostgreSQL's estimate, worded as one, and the table was not counted
    assert response.status_code == 200
    assert counts_over_accounts(captured) == []
    assert paginator_text(response.text).startswith("1 2 3 about 30 official accounts")
    assert "Select all of about 30 official accounts" in response.text
    assert "30 results" not in response.text  # the search bar's note is for narrowed lists


def test_unfiltered_list__rows_added_since_analyze__estimate_grows_with_the_table(
    never_analyzed, staff_web, low_threshold
):
    make_accounts(40)
    analyze_accounts()
    make_accounts(80)  # the table's pages grow; reltuples stays at 40 until the next ANALYZE

    estimate = table_row_estimate(OfficialAccount.objects.all())

    assert estimate is not None and estimate > 40


def test_unfiltered_list__estimate_under_threshold__counts_exactly(never_analyzed, staff_web):
    make_accounts(12)
    analyze_accounts()

    with CaptureQueriesContext(connection) as captured:
        response = staff_web.get(ACCOUNTS_URL)

    assert len(counts_over_accounts(captured)) == 1
    assert paginator_text(response.text) == "12 official accounts"


def test_unfiltered_list__table_never_analyzed__counts_exactly(never_analyzed, staff_web, low_threshold):
    make_accounts(12)

    with CaptureQueriesContext(connection) as captured:
        response = staff_web.get(ACCOUNTS_URL)

    assert table_row_estimate(OfficialAccount.objects.all()) is None
    assert len(counts_over_accounts(captured)) == 1
    assert paginator_text(response.text) == "12 official accounts"


def test_filtered_list__large_table__counts_exactly(never_analyzed, staff_web, low_threshold):
    make_accounts(24, kind=AccountKind.ENTERPRISE)
    make_accounts(6, kind=AccountKind.GOVERNMENT)
    analyze_accounts()

    with CaptureQueriesContext(connection) as captured:
        response = staff_web.get(ACCOUNTS_URL, {"kind__exact": AccountKind.GOVERNMENT})

    assert response.status_code == 200
    [count] = counts_over_accounts(captured)
    assert "WHERE" in count
    assert paginator_text(response.text) == "6 official accounts"
    assert "about" not in response.text


def test_searched_list__large_table__counts_exactly(never_analyzed, staff_web, low_threshold):
    make_accounts(30)
    merchant, organization = factories.merchant_register("searched")
    factories.official_account(actor=merchant, organization=organization, screen_name="Harbour Ferries")
    analyze_accounts()

    with CaptureQueriesContext(connection) as captured:
        response = staff_web.get(ACCOUNTS_URL, {"q": "Harbour"})

    assert response.status_code == 200
    assert len(counts_over_accounts(captured)) == 1
    assert paginator_text(response.text) == "1 official account"
    assert "Harbour Ferries" in response.text


def test_estimate__not_postgresql__is_none_and_the_list_counts_exactly(staff_web, low_threshold):
    if connection.vendor == "postgresql":
        pytest.skip("the fallback for the quick start's SQLite")
    make_accounts(12)

    response = staff_web.get(ACCOUNTS_URL)

    assert table_row_estimate(OfficialAccount.objects.all()) is None
    assert paginator_text(response.text) == "12 official accounts"


@pytest.mark.parametrize(
    ("rows", "shown"), [(10_000, 10_000), (83_512, 83_500), (1_669_984, 1_670_000), (331_029, 331_000)]
)
def test_round_estimate__keeps_three_significant_figures(rows: int, shown: int) -> None:
    assert round_estimate(rows) == shown


@pytest.mark.parametrize("model", LARGE_TABLES, ids=lambda model: model._meta.label)
def test_large_table_admin__uses_the_estimated_count_paginator(model) -> None:  # type: ignore[no-untyped-def]
    model_admin = admin.site._registry[model]
    assert issubclass(model_admin.paginator, EstimatedCountPaginator)
    assert model_admin.show_full_result_count is False
    # date_hierarchy lists the dates found in the whole table on every load
    assert model_admin.date_hierarchy is None
