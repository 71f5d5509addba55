"""Queries per request of every GET list and detail endpoint of the API: as many for six rows as for one.

Each case builds its data through the services, a step at a time: for a list, one more row visible to
the caller with its related rows (evaluations, attachments, events, links, shares, deliveries...);
for a detail, one more set of related rows of the same object. It measures one request after the
first step and one after the sixth, and asserts that both take the same number of queries, so an
N+1 query cannot come in unnoticed. Callers authenticate as real clients do (`Token`, `Api-Key`);
an unmeasured request goes first, so a key's last_used_at, written at most once a minute, is not
counted. The public profile is measured on a cache miss (a hit makes no query).

CASES covers every GET operation under /api/v1/: a new one fails
`test_query_counts__every_get_operation__has_a_case` until a case measures it.

With QUERY_COUNTS_REPORT=<path>, the module writes its figures to that file as a JSON list of
{"endpoint", "caller", "rows_small", "queries_small", "rows_large", "queries_large"}, in the order of
CASES; rows are the rows of a list's answer, or the related rows of a detail's object.
"""

import importlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import OfficialAccount, Organization, User
from accounts.profile_cache import profile_forget
from integrations import services as integration_services
from integrations.models import WebhookEndpoint, WebhookEvent
from miniprograms import services as miniprogram_services
from miniprograms.models import MiniProgram, ProfileLink
from miniprograms.quota import RedisQuota, quota_backend, window_start
from tests import factories
from tests.integrations.test_scope_matrix import SCOPE_MATRIX, api_operations
from tests.miniprograms.conftest import whitelisted
from tests.uploads import PDF
from whitelist import services as whitelist_services
from whitelist.models import CriteriaPolicy, ReasonCode, WhitelistApplication, WhitelistEntry

SMALL, LARGE = 1, 6
LIST, DETAIL = "list", "detail"
MERCHANT, STAFF, ANONYMOUS = "merchant", "staff", "anonymous"
ORGANIZATION_KEY, PLATFORM_KEY = "organization key", "platform key"

EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment", "after_sales"],
    "support_channels": ["400-800-1234"],
    "after_sales_policy": "Refunds within 7 days.",
}
VERTICAL_CODES = [
    code for code, _name in importlib.import_module("accounts.migrations.0002_initial_verticals").VERTICALS
]
REASON_CODES = importlib.import_module("whitelist.migrations.0002_policy_v1_and_reason_codes").REASON_CODES
# Nothing listens on port 1: each delivery attempt fails at once and is logged.
UNREACHABLE_RECEIVER = "http://127.0.0.1:1/hooks"

_serial = itertools.count(1)


class World:
    """The people of one test and the data its case grows, made through the services."""

    def __init__(
        self, *, merchant: User, organization: Organization, staff: User, second_reviewer: User
    ) -> None:
        self.merchant = merchant
        self.organization = organization
        self.staff = staff
        self.second_reviewer = second_reviewer
        self.subject: Any = None  # the object a detail case reads, or the parent of a list's rows
        self.steps = 0  # steps grown so far
        self._shared_account: OfficialAccount | None = None
        self._shared_link: ProfileLink | None = None

    # Accounts and applications

    def account(self, *, vertical_code: str = "commerce", verified: bool = False) -> OfficialAccount:
        return factories.official_account(
            actor=self.merchant,
            organization=self.organization,
            platform_uid=f"94{next(_serial):08d}",
            vertical_code=vertical_code,
            verified_by=self.staff if verified else None,
        )

    def whitelisted_account(self, *, share_limit: int = 1) -> OfficialAccount:
        account = whitelisted(
            owner=self.merchant,
            organization=self.organization,
            reviewer=self.staff,
            platform_uid=f"95{next(_serial):08d}",
        )
        if share_limit > 1:
            self.set_share_limit(self.entry_of(account), share_limit)
        # Account ids repeat between runs; a counter left on Redis by an earlier run must not count.
        backend = quota_backend()
        if isinstance(backend, RedisQuota):
            backend.client.delete(backend.key(account.pk, window_start()))
        return account

    @staticmethod
    def entry_of(account: OfficialAccount) -> WhitelistEntry:
        return WhitelistEntry.objects.get(account=account)

    def set_share_limit(self, entry: WhitelistEntry, limit: int) -> None:
        whitelist_services.whitelist_entry_set_share_limit(
            actor=self.staff, entry=entry, share_limit_per_hour=limit
        )

    def draft(self, account: OfficialAccount | None = None) -> WhitelistApplication:
        return whitelist_services.application_create(
            actor=self.merchant, account=account or self.account(), data=EVIDENCE
        )

    def attach(self, application: WhitelistApplication) -> None:
        whitelist_services.application_attachment_add(
            actor=self.merchant,
            application=application,
            uploaded=SimpleUploadedFile("licence.pdf", PDF, content_type="application/pdf"),
        )

    def note(self, application: WhitelistApplication, *, by: User | None = None) -> None:
        whitelist_services.application_note(
            actor=by or self.staff,
            application=application,
            message="Checked the licence.",
            visible_to_applicant=True,
        )

    def reason_code(self) -> ReasonCode:
        code, title, text = REASON_CODES[0]
        return ReasonCode.objects.get_or_create(code=code, defaults={"title": title, "text": text})[0]

    # Mini programs, links and shares

    def miniprogram(self) -> MiniProgram:
        return miniprogram_services.miniprogram_create(
            actor=self.merchant,
            organization=self.organization,
            app_id=f"2021{next(_serial):012d}",
            name="Burger Order",
            category="business",
            description="Order burgers ahead.",
            capabilities=["payment", "card"],
        )

    def link(self, *, account: OfficialAccount, miniprogram: MiniProgram, live: bool = True) -> ProfileLink:
        link = miniprogram_services.profile_link_request(
            actor=self.merchant, miniprogram=miniprogram, account=account
        )
        return miniprogram_services.profile_link_approve(actor=self.staff, link=link) if live else link

    def shared_account(self) -> OfficialAccount:
        """One whitelisted account that shows the case's mini programs and shares them."""
        if self._shared_account is None:
            self._shared_account = self.whitelisted_account(share_limit=20)
        return self._shared_account

    def shared_link(self) -> ProfileLink:
        if self._shared_link is None:
            self._shared_link = self.link(account=self.shared_account(), miniprogram=self.miniprogram())
        return self._shared_link

    def share(self, link: ProfileLink) -> None:
        miniprogram_services.share_record(
            actor=self.merchant, miniprogram=link.miniprogram, account=link.account
        )

    # Webhooks

    def endpoint(self) -> WebhookEndpoint:
        return integration_services.webhook_endpoint_create(
            actor=self.merchant,
            organization=self.organization,
            url=f"{UNREACHABLE_RECEIVER}/{next(_serial)}",
            events=[WebhookEvent.APPLICATION_DECIDED],
        )

    def deliver(self) -> None:
        """One event to every endpoint of the organization, each delivery tried twice and logged."""
        deliveries = integration_services.webhook_event_emit(
            event=WebhookEvent.APPLICATION_DECIDED,
            organization_id=self.organization.pk,
            data={"application": {"id": next(_serial), "state": "approved"}},
        )
        for delivery in deliveries:
            assert integration_services.webhook_delivery_attempt(delivery_id=delivery.pk) is not None
            integration_services.webhook_delivery_resend(actor=self.merchant, delivery=delivery)
            assert integration_services.webhook_delivery_attempt(delivery_id=delivery.pk) is not None


# The cases: how each grows its data a step at a time, where it reads, and what rows it sees.

Grow = Callable[[World, int], None]
Url = Callable[[World], str]
Count = Callable[[World, Any], int]


@dataclass(frozen=True)
class Case:
    kind: str
    route: str
    callers: tuple[str, ...]
    grow: Grow
    url: Url
    count: Count


def results(world: World, response: Any) -> int:
    return len(response.json()["results"])


def items(world: World, response: Any) -> int:
    return len(response.json())


def detail_of(related: Callable[[Any], int]) -> Count:
    """A detail's count: the answer is the subject, and the rows are its related rows."""

    def count(world: World, response: Any) -> int:
        assert response.json()["id"] == world.subject.pk
        return related(world.subject)

    return count


def _first_step(make: Callable[[World], Any], then: Callable[[World, int], None]) -> Grow:
    """Make the subject on the first step, then grow it on every step."""

    def grow(world: World, step: int) -> None:
        if step == 0:
            world.subject = make(world)
        then(world, step)

    return grow


# Accounts


def grow_verticals(world: World, step: int) -> None:
    # The verticals are the data migration's (made again if a transactional test flushed them).
    factories.vertical(VERTICAL_CODES[step])


def grow_accounts(world: World, step: int) -> None:
    account = world.account(vertical_code=VERTICAL_CODES[step % 4], verified=step % 2 == 0)
    world.draft(account)


def grow_account_detail(world: World, step: int) -> None:
    link = world.link(account=world.subject, miniprogram=world.miniprogram())
    world.share(link)


# Applications


def grow_applications(world: World, step: int) -> None:
    application = world.draft()
    world.attach(application)
    world.attach(application)
    whitelist_services.application_submit(actor=world.merchant, application=application)
    whitelist_services.application_evaluate(actor=world.staff, application=application)
    world.note(application)


def grow_application_detail(world: World, step: int) -> None:
    world.attach(world.subject)
    whitelist_services.application_evaluate(actor=world.merchant, application=world.subject)
    world.note(world.subject)


def grow_events(world: World, step: int) -> None:
    application = world.subject
    if step == 0:
        return  # the draft's own event
    timeline: list[Callable[[], object]] = [
        lambda: whitelist_services.application_submit(actor=world.merchant, application=application),
        lambda: whitelist_services.application_request_changes(
            actor=world.staff,
            application=application,
            message="Add the team's contracts.",
            reason_code=world.reason_code(),
        ),
        lambda: whitelist_services.application_resubmit(actor=world.merchant, application=application),
        lambda: world.note(application),
        lambda: world.note(application, by=world.second_reviewer),
    ]
    timeline[step - 1]()


def attachment_url(world: World) -> str:
    first = world.subject.attachments.order_by("id").first()
    return f"/api/v1/applications/{world.subject.pk}/attachments/{first.pk}/"


def downloaded(world: World, response: Any) -> int:
    assert b"".join(response.streaming_content) == PDF
    return world.subject.attachments.count()


# Whitelist entries


def grow_entries(world: World, step: int) -> None:
    entry = world.entry_of(world.whitelisted_account())
    world.set_share_limit(entry, 3)
    whitelist_services.whitelist_entry_suspend(actor=world.staff, entry=entry, reason="Spam reports.")
    whitelist_services.whitelist_entry_reinstate(actor=world.staff, entry=entry, reason="Resolved.")


def grow_entry_events(world: World, step: int) -> None:
    if step > 0:  # after the grant's own event
        world.set_share_limit(world.entry_of(world.subject), step + 1)


def looked_up_entry(world: World, response: Any) -> int:
    entry = world.entry_of(world.subject)
    assert response.json()["id"] == entry.pk
    assert response.json()["share_limit_per_hour"] == entry.share_limit_per_hour
    return entry.events.count()


def lookup_url(world: World) -> str:
    return f"/api/v1/whitelist/{world.subject.platform}/{world.subject.platform_uid}/"


def looked_up(world: World, response: Any) -> int:
    entry = world.entry_of(world.subject)
    assert response.json()["whitelisted"] is True
    assert response.json()["share_limit_per_hour"] == entry.share_limit_per_hour
    return entry.events.count()


# Mini programs, links, shares and profiles


def grow_miniprograms(world: World, step: int) -> None:
    link = world.link(account=world.shared_account(), miniprogram=world.miniprogram())
    world.share(link)


def grow_miniprogram_detail(world: World, step: int) -> None:
    link = world.link(account=world.whitelisted_account(), miniprogram=world.subject)
    world.share(link)


def grow_shares(world: World, step: int) -> None:
    world.share(world.shared_link())


def grow_links(world: World, step: int) -> None:
    link = world.link(account=world.shared_account(), miniprogram=world.miniprogram(), live=step % 2 == 0)
    if step % 2 == 0:
        world.share(link)


def grow_link_detail(world: World, step: int) -> None:
    world.share(world.subject)


def quota_url(world: World) -> str:
    return f"/api/v1/accounts/{world.subject.account_id}/quota/"


def quota_used(world: World, response: Any) -> int:
    used: int = response.json()["used"]
    assert used == world.subject.shares.count()
    return used


def grow_profile(world: World, step: int) -> None:
    world.link(account=world.subject, miniprogram=world.miniprogram())


def profile_url(world: World) -> str:
    account = world.subject
    profile_forget([(account.platform, account.platform_uid)])  # measure the miss; a hit costs nothing
    return f"/api/v1/profiles/{account.platform}/{account.platform_uid}/miniprograms/"


def profile_rows(world: World, response: Any) -> int:
    assert response.json()["whitelisted"] is True
    return len(response.json()["miniprograms"])


# Webhooks


def grow_webhooks(world: World, step: int) -> None:
    world.endpoint()
    world.deliver()


def grow_deliveries(world: World, step: int) -> None:
    world.deliver()


USERS = (MERCHANT, STAFF)
KEYS = (ORGANIZATION_KEY, PLATFORM_KEY)


def _subject_url(template: str) -> Url:
    return lambda world: template.format(pk=world.subject.pk)


CASES: list[Case] = [
    # accounts; the verticals are the same for all, so the page holds as many as the steps
    Case(
        LIST,
        "/api/v1/verticals/",
        (MERCHANT,),
        grow_verticals,
        lambda world: f"/api/v1/verticals/?page_size={world.steps}",
        results,
    ),
    Case(LIST, "/api/v1/accounts/", USERS, grow_accounts, lambda world: "/api/v1/accounts/", results),
    Case(
        DETAIL,
        "/api/v1/accounts/<int:pk>/",
        USERS,
        _first_step(lambda world: world.whitelisted_account(share_limit=20), grow_account_detail),
        _subject_url("/api/v1/accounts/{pk}/"),
        detail_of(lambda account: account.profile_links.count()),
    ),
    # whitelist applications
    Case(
        LIST,
        "/api/v1/applications/",
        USERS,
        grow_applications,
        lambda world: "/api/v1/applications/",
        results,
    ),
    Case(
        DETAIL,
        "/api/v1/applications/<int:pk>/",
        USERS,
        _first_step(lambda world: world.draft(), grow_application_detail),
        _subject_url("/api/v1/applications/{pk}/"),
        detail_of(lambda application: application.attachments.count()),
    ),
    Case(
        LIST,
        "/api/v1/applications/<int:pk>/events/",
        USERS,
        _first_step(lambda world: world.draft(), grow_events),
        _subject_url("/api/v1/applications/{pk}/events/"),
        results,
    ),
    Case(
        LIST,
        "/api/v1/applications/<int:pk>/attachments/",
        USERS,
        _first_step(lambda world: world.draft(), lambda world, step: world.attach(world.subject)),
        _subject_url("/api/v1/applications/{pk}/attachments/"),
        items,
    ),
    Case(
        DETAIL,
        "/api/v1/applications/<int:pk>/attachments/<int:attachment_id>/",
        USERS,
        _first_step(lambda world: world.draft(), grow_application_detail),
        attachment_url,
        downloaded,
    ),
    # whitelist entries and the lookup
    Case(
        LIST,
        "/api/v1/whitelist-entries/",
        (*USERS, *KEYS),
        grow_entries,
        lambda world: "/api/v1/whitelist-entries/",
        results,
    ),
    Case(
        DETAIL,
        "/api/v1/whitelist-entries/<int:pk>/",
        (*USERS, *KEYS),
        _first_step(lambda world: world.whitelisted_account(), grow_entry_events),
        lambda world: f"/api/v1/whitelist-entries/{world.entry_of(world.subject).pk}/",
        looked_up_entry,
    ),
    Case(
        DETAIL,
        "/api/v1/whitelist/<str:platform>/<platform_uid:platform_uid>/",
        (ANONYMOUS, PLATFORM_KEY),
        _first_step(lambda world: world.whitelisted_account(), grow_entry_events),
        lookup_url,
        looked_up,
    ),
    # mini programs, shares, profiles and links
    Case(
        LIST,
        "/api/v1/miniprograms/",
        USERS,
        grow_miniprograms,
        lambda world: "/api/v1/miniprograms/",
        results,
    ),
    Case(
        DETAIL,
        "/api/v1/miniprograms/<int:pk>/",
        USERS,
        _first_step(lambda world: world.miniprogram(), grow_miniprogram_detail),
        _subject_url("/api/v1/miniprograms/{pk}/"),
        detail_of(lambda miniprogram: miniprogram.profile_links.count()),
    ),
    Case(
        DETAIL,
        "/api/v1/accounts/<int:pk>/quota/",
        (MERCHANT, *KEYS),
        _first_step(lambda world: world.shared_link(), grow_link_detail),
        quota_url,
        quota_used,
    ),
    Case(LIST, "/api/v1/shares/", USERS, grow_shares, lambda world: "/api/v1/shares/", results),
    Case(
        LIST,
        "/api/v1/profiles/<str:platform>/<platform_uid:platform_uid>/miniprograms/",
        (ANONYMOUS, PLATFORM_KEY),
        _first_step(lambda world: world.whitelisted_account(), grow_profile),
        profile_url,
        profile_rows,
    ),
    Case(LIST, "/api/v1/profile-links/", USERS, grow_links, lambda world: "/api/v1/profile-links/", results),
    Case(
        DETAIL,
        "/api/v1/profile-links/<int:pk>/",
        USERS,
        _first_step(lambda world: world.shared_link(), grow_link_detail),
        _subject_url("/api/v1/profile-links/{pk}/"),
        detail_of(lambda link: link.shares.count()),
    ),
    # webhooks
    Case(LIST, "/api/v1/webhooks/", USERS, grow_webhooks, lambda world: "/api/v1/webhooks/", results),
    Case(
        DETAIL,
        "/api/v1/webhooks/<int:pk>/",
        USERS,
        _first_step(lambda world: world.endpoint(), grow_deliveries),
        _subject_url("/api/v1/webhooks/{pk}/"),
        detail_of(lambda endpoint: endpoint.deliveries.count()),
    ),
    Case(
        LIST,
        "/api/v1/webhooks/<int:pk>/deliveries/",
        USERS,
        _first_step(lambda world: world.endpoint(), grow_deliveries),
        _subject_url("/api/v1/webhooks/{pk}/deliveries/"),
        results,
    ),
]


def _endpoint(case: Case) -> str:
    return f"GET {case.route}"


def _caller_label(case: Case, caller: str) -> str:
    scope = SCOPE_MATRIX.get(("GET", case.route))
    return f"{caller} ({scope.value})" if caller in KEYS and scope is not None else caller


CASE_CALLERS = [(case, caller) for case in CASES for caller in case.callers]
MEASURED = [
    pytest.param(case, caller, id=f"{case.kind} {case.route.removeprefix('/api/v1/')} as {caller}")
    for case, caller in CASE_CALLERS
]


# The table is complete


def test_query_counts__every_get_operation__has_a_case():
    operations = {route for method, route in api_operations() if method == "GET"}
    assert "/api/v1/applications/" in operations, "the URL walk found nothing under /api/v1/"
    covered = {case.route for case in CASES}
    assert len(covered) == len(CASES), "one case per route; list its callers in the case"
    missing = sorted(operations - covered)
    assert not missing, f"add a case for each of these GET operations: {missing}"
    stale = sorted(covered - operations)
    assert not stale, f"these cases measure operations that no longer exist: {stale}"


def test_query_counts__every_key_caller__is_a_scope_the_operation_grants():
    for case in CASES:
        if any(caller in KEYS for caller in case.callers):
            assert SCOPE_MATRIX[("GET", case.route)] is not None, case.route


# Few rows or many, the same queries


@pytest.fixture(scope="module")
def query_report() -> Iterator[list[dict[str, Any]]]:
    """The figures of the module's cases, written to $QUERY_COUNTS_REPORT when it names a file."""
    rows: list[dict[str, Any]] = []
    yield rows
    path = os.environ.get("QUERY_COUNTS_REPORT")
    if path:
        order = {
            (_endpoint(case), _caller_label(case, caller)): index
            for index, (case, caller) in enumerate(CASE_CALLERS)
        }
        rows.sort(key=lambda row: order[(row["endpoint"], row["caller"])])
        Path(path).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


@pytest.fixture
def world(
    merchant: User, organization: Organization, staff: User, second_reviewer: User, policy: CriteriaPolicy
) -> World:
    return World(merchant=merchant, organization=organization, staff=staff, second_reviewer=second_reviewer)


def client_for(world: World, case: Case, caller: str) -> APIClient:
    client = APIClient()
    if caller in (MERCHANT, STAFF):
        user = world.merchant if caller == MERCHANT else world.staff
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    elif caller in KEYS:
        scope = SCOPE_MATRIX[("GET", case.route)]
        assert scope is not None
        _key, secret = integration_services.api_key_issue(
            actor=world.staff,
            name=f"{caller} for {scope.value}",
            scopes=[scope],
            organization=world.organization if caller == ORGANIZATION_KEY else None,
        )
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def measure(case: Case, world: World, client: APIClient) -> tuple[int, list[dict[str, str]]]:
    """The rows of one request's answer and the queries it took."""
    url = case.url(world)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, getattr(response, "content", response)
    return case.count(world, response), queries.captured_queries


def grow_to(case: Case, world: World, steps: int) -> None:
    while world.steps < steps:
        case.grow(world, world.steps)
        world.steps += 1


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "caller"), MEASURED)
def test_query_count__six_rows__same_as_one_row(
    case: Case, caller: str, world: World, query_report: list[dict[str, Any]]
):
    client = client_for(world, case, caller)
    # Given one row (a list) or one set of related rows (a detail), and a first request
    grow_to(case, world, SMALL)
    assert client.get(case.url(world)).status_code == 200
    rows_small, queries_small = measure(case, world, client)
    # When there are six
    grow_to(case, world, LARGE)
    rows_large, queries_large = measure(case, world, client)
    query_report.append(
        {
            "endpoint": _endpoint(case),
            "caller": _caller_label(case, caller),
            "rows_small": rows_small,
            "queries_small": len(queries_small),
            "rows_large": rows_large,
            "queries_large": len(queries_large),
        }
    )
    # Then the answer holds them all, and took the same queries
    assert (rows_small, rows_large) == (SMALL, LARGE)
    assert len(queries_large) == len(queries_small), "\n".join(query["sql"] for query in queries_large)
