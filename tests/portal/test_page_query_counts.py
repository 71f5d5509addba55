"""Queries per merchant page: as many with several rows as with one.

The pages are found by walking the URL resolver (every route outside admin/ and api/), as
test_query_counts.py does for the API. Each GET page has a case that grows its rows a step at a
time through the services (accounts, applications, evaluations, notes, attachments, mini programs,
live links with their quotas and profile previews, shares...) and measures the page after one
step and after four: the counts must be equal, so an N+1 query cannot come in unnoticed. A page
that only takes POSTs is listed as such (and answers GET with 405); a page with nothing that grows
says why. A new page fails `test_page_query_counts__every_merchant_page__has_a_case` until it is
given one.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import MembershipRole, OfficialAccount, Organization, User
from accounts.services import membership_add
from miniprograms import services as miniprogram_services
from miniprograms.models import MiniProgram, ProfileLink
from tests import factories
from tests.miniprograms.conftest import EVIDENCE, whitelisted
from tests.uploads import PDF
from whitelist import services as whitelist_services
from whitelist.models import CriteriaPolicy, WhitelistApplication

SMALL, LARGE = 1, 4

_serial = itertools.count(1)


class World:
    """The merchant of one test and the rows its case grows, made through the services."""

    def __init__(self, *, merchant: User, organization: Organization, staff: User) -> None:
        self.merchant = merchant
        self.organization = organization
        self.staff = staff
        self.subject: Any = None
        self.steps = 0

    def account(self, *, verified: bool = True) -> OfficialAccount:
        return factories.official_account(
            actor=self.merchant,
            organization=self.organization,
            platform_uid=f"96{next(_serial):08d}",
            verified_by=self.staff if verified else None,
        )

    def whitelisted_account(self) -> OfficialAccount:
        return whitelisted(
            owner=self.merchant,
            organization=self.organization,
            reviewer=self.staff,
            platform_uid=f"97{next(_serial):08d}",
        )

    def draft(self, account: OfficialAccount | None = None) -> WhitelistApplication:
        return whitelist_services.application_create(
            actor=self.merchant, account=account or self.account(), data=EVIDENCE
        )

    def submitted(self) -> WhitelistApplication:
        return whitelist_services.application_submit(actor=self.merchant, application=self.draft())

    def managed_organization(self) -> Organization:
        """Another organization that the merchant administers."""
        owner, organization = factories.merchant_register(
            f"owner{next(_serial)}", organization_name=f"Partner {next(_serial)} Ltd"
        )
        membership_add(actor=owner, organization=organization, user=self.merchant, role=MembershipRole.ADMIN)
        return organization

    def miniprogram(self) -> MiniProgram:
        return miniprogram_services.miniprogram_create(
            actor=self.merchant,
            organization=self.organization,
            app_id=f"2022{next(_serial):012d}",
            name="Burger Order",
            category="business",
            capabilities=["payment"],
        )

    def live_link(self, *, account: OfficialAccount, miniprogram: MiniProgram) -> ProfileLink:
        link = miniprogram_services.profile_link_request(
            actor=self.merchant, miniprogram=miniprogram, account=account
        )
        return miniprogram_services.profile_link_approve(actor=self.staff, link=link)


Grow = Callable[[World, int], None]


@dataclass(frozen=True)
class Case:
    name: str  # the URL name, namespace:name
    grow: Grow
    url: Callable[[World], str]


def _first_step(make: Callable[[World], Any], then: Callable[[World, int], None]) -> Grow:
    def grow(world: World, step: int) -> None:
        if step == 0:
            world.subject = make(world)
        then(world, step)

    return grow


def _subject_url(name: str, **extra: Callable[[World], int]) -> Callable[[World], str]:
    def url(world: World) -> str:
        kwargs = {"pk": world.subject.pk, **{key: value(world) for key, value in extra.items()}}
        return reverse(name, kwargs=kwargs)

    return url


# accounts


def grow_accounts(world: World, step: int) -> None:
    account = world.account(verified=step % 2 == 0)
    if step % 2 == 0:
        world.draft(account)


def grow_managed_organizations(world: World, step: int) -> None:
    world.managed_organization()


def grow_open_accounts(world: World, step: int) -> None:
    world.account()


# whitelist


def grow_applications(world: World, step: int) -> None:
    application = world.draft()
    if step % 2 == 0:
        # Submitted: evaluated, with an event
        whitelist_services.application_submit(actor=world.merchant, application=application)


def grow_application_evidence(world: World, step: int) -> None:
    application = world.subject
    whitelist_services.application_attachment_add(
        actor=world.merchant,
        application=application,
        uploaded=SimpleUploadedFile(f"licence-{step}.pdf", PDF, content_type="application/pdf"),
    )
    whitelist_services.application_note(
        actor=world.staff, application=application, message="Checked.", visible_to_applicant=True
    )


def grow_application_notes(world: World, step: int) -> None:
    whitelist_services.application_note(
        actor=world.staff, application=world.subject, message="Checked.", visible_to_applicant=True
    )


# miniprograms


def grow_miniprograms(world: World, step: int) -> None:
    miniprogram = world.miniprogram()
    world.live_link(account=world.whitelisted_account(), miniprogram=miniprogram)


def grow_live_links(world: World, step: int) -> None:
    """One more account showing the mini program, with a share: one more quota and profile preview."""
    link = world.live_link(account=world.whitelisted_account(), miniprogram=world.subject)
    miniprogram_services.share_record(
        actor=world.merchant, miniprogram=link.miniprogram, account=link.account
    )


def grow_link_shares(world: World, step: int) -> None:
    link = world.subject
    whitelist_services.whitelist_entry_set_share_limit(
        actor=world.staff, entry=link.account.whitelist_entry, share_limit_per_hour=LARGE + 1
    )
    miniprogram_services.share_record(
        actor=world.merchant, miniprogram=link.miniprogram, account=link.account
    )


def _make_live_link(world: World) -> ProfileLink:
    return world.live_link(account=world.whitelisted_account(), miniprogram=world.miniprogram())


CASES = [
    Case("home:dashboard", grow_accounts, lambda world: reverse("home:dashboard")),
    Case(
        "accounts:account-create",
        grow_managed_organizations,
        lambda world: reverse("accounts:account-create"),
    ),
    Case(
        "accounts:account-edit",
        _first_step(lambda world: world.account(), grow_managed_organizations),
        _subject_url("accounts:account-edit"),
    ),
    Case(
        "whitelist:application-list", grow_applications, lambda world: reverse("whitelist:application-list")
    ),
    Case(
        "whitelist:application-create",
        grow_open_accounts,
        lambda world: reverse("whitelist:application-create"),
    ),
    Case(
        "whitelist:application-detail",
        _first_step(lambda world: world.draft(), grow_application_evidence),
        _subject_url("whitelist:application-detail"),
    ),
    Case(
        "whitelist:application-edit",
        _first_step(lambda world: world.draft(), grow_application_evidence),
        _subject_url("whitelist:application-edit"),
    ),
    Case(
        "whitelist:application-withdraw",
        _first_step(lambda world: world.submitted(), grow_application_notes),
        _subject_url("whitelist:application-withdraw"),
    ),
    Case("miniprograms:list", grow_miniprograms, lambda world: reverse("miniprograms:list")),
    Case("miniprograms:create", grow_managed_organizations, lambda world: reverse("miniprograms:create")),
    Case(
        "miniprograms:detail",
        _first_step(lambda world: world.miniprogram(), grow_live_links),
        _subject_url("miniprograms:detail"),
    ),
    Case(
        "miniprograms:link-unlink",
        _first_step(_make_live_link, grow_link_shares),
        lambda world: reverse(
            "miniprograms:link-unlink",
            kwargs={"pk": world.subject.miniprogram_id, "link_id": world.subject.pk},
        ),
    ),
]

# Pages that take only a POST: a GET answers 405, so they have no page to measure.
POST_ONLY = {
    "whitelist:application-evaluate": {"pk": 1},
    "whitelist:application-submit": {"pk": 1},
    "whitelist:application-resubmit": {"pk": 1},
    "whitelist:application-attachment-upload": {"pk": 1},
    "whitelist:application-attachment-remove": {"pk": 1, "attachment_id": 1},
    "miniprograms:link-request": {"pk": 1},
    "accounts:account-request-verification": {"pk": 1},
    "miniprograms:share": {"pk": 1, "link_id": 1},
    "set_language": {},
    "logout": {},
    "email_confirm_resend": {},
}

# Pages with nothing that grows: the merchant's own settings, and the pages before log-in.
NOTHING_GROWS = {
    "accounts:preferences": "the signed-in user's own language and time zone",
    "accounts:signup": "an empty sign-up form, before log-in",
    "login": "the log-in form",
    "password_reset": "the password reset form",
    "password_reset_done": "a fixed message",
    "password_reset_confirm": "one user's reset form, reached by a one-time link",
    "password_reset_complete": "a fixed message",
    "email_confirm": "one user's confirmation button, reached by a one-time link",
    "healthz": "the health check, not a page",
}


def merchant_url_names() -> set[str]:
    """Every named URL outside admin/ and api/, as namespace:name."""
    names: set[str] = set()

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(("admin/", "api/")):
                continue
            if isinstance(pattern, URLResolver):
                inner = (
                    f"{namespace}:{pattern.namespace}"
                    if namespace and pattern.namespace
                    else pattern.namespace
                )
                walk(pattern.url_patterns, route, inner or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns, "", "")
    return names


def test_page_query_counts__every_merchant_page__has_a_case():
    names = merchant_url_names()
    assert "miniprograms:detail" in names, "the URL walk found no merchant page"
    covered = [case.name for case in CASES]
    assert len(covered) == len(set(covered)), "one case per page"
    listed = set(covered) | set(POST_ONLY) | set(NOTHING_GROWS)
    missing = sorted(names - listed)
    assert not missing, f"add a case (or list as POST-only) for each of these pages: {missing}"
    stale = sorted(listed - names)
    assert not stale, f"these pages no longer exist: {stale}"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(POST_ONLY))
def test_page__post_only__answers_get_with_405(client, merchant, name):
    client.force_login(merchant)
    assert client.get(reverse(name, kwargs=POST_ONLY[name])).status_code == 405


def measure(client: Client, url: str) -> list[dict[str, str]]:
    cache.clear()  # the mini program page reads profiles through the cache: measure a miss
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return queries.captured_queries


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_page_query_count__several_rows__same_as_one(
    case: Case, merchant: User, organization: Organization, staff: User, policy: CriteriaPolicy
):
    world = World(merchant=merchant, organization=organization, staff=staff)
    client = Client()
    client.force_login(merchant)
    # Given one row, and a first request
    case.grow(world, 0)
    world.steps = SMALL
    assert client.get(case.url(world)).status_code == 200
    small = measure(client, case.url(world))
    # When there are several
    for step in range(SMALL, LARGE):
        case.grow(world, step)
    large = measure(client, case.url(world))
    # Then the page took the same queries
    assert len(large) == len(small), "\n".join(query["sql"] for query in large)
