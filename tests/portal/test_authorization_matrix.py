"""Who gets what on every route that names an object: merchant pages and /api/v1/, each operation
by anonymous, another merchant, a plain member, an admin, the owner and platform staff.

MATRIX is the one table of them: a new route with a parameter, or a new method on one, fails
`test_matrix__every_object_operation__is_listed` until it is added with what each caller gets.
The admin (/admin/) is staff-only by Django and not listed.

The rules the table follows:
- anonymous: a page redirects to the log-in (302), the API answers 401;
- another merchant: the object does not exist for it (404, the same answer as for an id that does not
  exist), and no text of the object shows; the one exception is an operation that only staff may call,
  which every non-staff caller gets as a 403 before any object is looked up (the same for any id);
- the organization's people: as the product allows (reads for every member; changes for the owners and
  admins; webhooks are the owners' and admins' only; sharing for every member);
- staff: every read and every staff decision, but staff do not act as the applicant;
- public operations (the whitelist lookup and the profile section) answer everyone.
Each case builds its own organization and object through the services, in the state where the
operation succeeds for whoever may do it, and checks that a refused request changed nothing.
"""

import json
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db.models import Model
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import OfficialAccount
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from miniprograms.models import MiniProgram, ProfileLink, ProfileLinkEvent, Share
from tests import factories
from tests.uploads import PDF, PNG
from whitelist import services as whitelist_services
from whitelist.models import (
    ApplicationAttachment,
    ApplicationState,
    Evaluation,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
)

from . import object_routes as objects
from .object_routes import Build, Target, World

CALLERS = ("anonymous", "other_merchant", "member", "admin", "owner", "staff")

# A page's POST answers with a redirect both when it did the change and when it refused it with a message.
DONE = "302, changed"
REFUSED = "302, unchanged"
Expected = int | str


@dataclass(frozen=True)
class Case:
    build: Build
    expected: tuple[Expected, Expected, Expected, Expected, Expected, Expected]


# Builders of each route's target


def _account(world: World) -> Target:
    return Target({"pk": objects.account(world).pk}, {"screen_name": "Alice Renamed"})


def _unverified_account(world: World) -> Target:
    return Target({"pk": objects.unverified_account(world).pk})


def _whitelisted_account(world: World) -> Target:
    return Target({"pk": objects.whitelisted_account(world).pk})


def _application(state: str, body: dict[str, Any] | None = None) -> Build:
    return lambda world: Target({"pk": objects.application(world, state).pk}, body)


def _decision(body: dict[str, Any]) -> Build:
    return _application(ApplicationState.SUBMITTED, body)


def _rejection(world: World) -> Target:
    return Target(
        {"pk": objects.application(world, ApplicationState.SUBMITTED).pk},
        {"reason_code": objects.reason_code().code},
    )


def _new_attachment(world: World) -> Target:
    return Target(
        {"pk": objects.application(world).pk},
        {"file": objects.upload("alice-team.pdf", PDF, "application/pdf")},
        multipart=True,
    )


def _attachment(world: World) -> Target:
    found = objects.attachment(world)
    return Target({"pk": found.application_id, "attachment_id": found.pk})


def _entry(*, suspended: bool = False, body: dict[str, Any] | None = None) -> Build:
    return lambda world: Target({"pk": objects.entry(world, suspended=suspended).pk}, body)


def _lookup(world: World) -> Target:
    found = objects.whitelisted_account(world)
    return Target({"platform": found.platform, "platform_uid": found.platform_uid})


def _profile(world: World) -> Target:
    found = objects.link(world)
    return Target({"platform": found.account.platform, "platform_uid": found.account.platform_uid})


def _miniprogram(body: dict[str, Any] | None = None) -> Build:
    return lambda world: Target({"pk": objects.miniprogram(world).pk}, body)


def _icon(world: World) -> Target:
    return Target(
        {"pk": objects.miniprogram(world).pk},
        {"icon": objects.upload("alice-icon.png", PNG, "image/png")},
        multipart=True,
    )


def _share(world: World) -> Target:
    found = objects.link(world)
    return Target({"pk": found.miniprogram_id}, {"account": found.account_id})


def _link(*, live: bool, body: dict[str, Any] | None = None) -> Build:
    return lambda world: Target({"pk": objects.link(world, live=live).pk}, body)


def _webhook(body: dict[str, Any] | None = None) -> Build:
    return lambda world: Target({"pk": objects.webhook_delivery(world).endpoint_id}, body)


def _delivery(world: World) -> Target:
    found = objects.webhook_delivery(world)
    return Target({"pk": found.endpoint_id, "delivery_id": found.pk})


# Pages


def _account_page(world: World) -> Target:
    found = objects.account(world)
    return Target(
        {"pk": found.pk},
        {
            "platform": found.platform,
            "platform_uid": found.platform_uid,
            "screen_name": "Alice Renamed",
            "kind": found.kind,
            "vertical": found.vertical.code,
            "followers_count": str(found.followers_count),
        },
    )


EVIDENCE_FORM = {
    "has_in_house_team": "on",
    "dev_team_size": "12",
    "product_name_1": "Order app",
    "product_url_1": "https://apps.example.com/order",
    "services": ["ordering", "payment"],
    "support_channels": "400-800-1234",
    "after_sales_policy": "Refunds within 7 days.",
    "description": "A bigger team now.",
}


def _page_attachment(world: World) -> Target:
    return Target(
        {"pk": objects.application(world).pk},
        {"file": objects.upload("alice-team.pdf", PDF, "application/pdf")},
        multipart=True,
    )


def _link_request(world: World) -> Target:
    return Target(
        {"pk": objects.miniprogram(world).pk}, {"account": str(objects.whitelisted_account(world).pk)}
    )


def _page_link(body: dict[str, Any] | None = None) -> Build:
    def build(world: World) -> Target:
        found = objects.link(world)
        return Target({"pk": found.miniprogram_id, "link_id": found.pk}, body)

    return build


SUBMITTED, DRAFT, CHANGES = (
    ApplicationState.SUBMITTED,
    ApplicationState.DRAFT,
    ApplicationState.CHANGES_REQUESTED,
)
STAFF_ONLY_API = (401, 403, 403, 403, 403, 200)
PUBLIC = (200, 200, 200, 200, 200, 200)

# (method, route) → what each of CALLERS gets: anonymous, other merchant, member, admin, owner, staff.
MATRIX: dict[tuple[str, str], Case] = {
    # Official accounts
    ("GET", "/api/v1/accounts/<int:pk>/"): Case(_account, (401, 404, 200, 200, 200, 200)),
    ("PATCH", "/api/v1/accounts/<int:pk>/"): Case(_account, (401, 404, 403, 200, 200, 200)),
    ("POST", "/api/v1/accounts/<int:pk>/verify/"): Case(_unverified_account, STAFF_ONLY_API),
    ("POST", "/api/v1/accounts/<int:pk>/request-verification/"): Case(
        _unverified_account, (401, 404, 403, 200, 200, 200)
    ),
    ("POST", "/accounts/<int:pk>/request-verification/"): Case(
        _unverified_account, (302, 404, REFUSED, DONE, DONE, DONE)
    ),
    ("GET", "/api/v1/accounts/<int:pk>/quota/"): Case(_whitelisted_account, (401, 404, 200, 200, 200, 200)),
    ("GET", "/accounts/<int:pk>/edit/"): Case(_account_page, (302, 404, 403, 200, 200, 200)),
    ("POST", "/accounts/<int:pk>/edit/"): Case(_account_page, (302, 404, 403, DONE, DONE, DONE)),
    # Whitelist applications: read by every member and staff, changed by the applicant's owners and admins
    ("GET", "/api/v1/applications/<int:pk>/"): Case(_application(DRAFT), (401, 404, 200, 200, 200, 200)),
    ("PATCH", "/api/v1/applications/<int:pk>/"): Case(
        _application(DRAFT, {"dev_team_size": 9}), (401, 404, 403, 200, 200, 403)
    ),
    ("POST", "/api/v1/applications/<int:pk>/submit/"): Case(
        _application(DRAFT), (401, 404, 403, 200, 200, 403)
    ),
    ("POST", "/api/v1/applications/<int:pk>/withdraw/"): Case(
        _application(SUBMITTED), (401, 404, 403, 200, 200, 403)
    ),
    ("POST", "/api/v1/applications/<int:pk>/resubmit/"): Case(
        _application(CHANGES), (401, 404, 403, 200, 200, 403)
    ),
    ("POST", "/api/v1/applications/<int:pk>/approve/"): Case(
        _decision({"message": "Welcome."}), STAFF_ONLY_API
    ),
    ("POST", "/api/v1/applications/<int:pk>/reject/"): Case(_rejection, STAFF_ONLY_API),
    ("POST", "/api/v1/applications/<int:pk>/request-changes/"): Case(
        _decision({"message": "Add the contracts."}), STAFF_ONLY_API
    ),
    ("GET", "/api/v1/applications/<int:pk>/events/"): Case(
        _application(SUBMITTED), (401, 404, 200, 200, 200, 200)
    ),
    ("POST", "/api/v1/applications/<int:pk>/evaluate/"): Case(
        _application(DRAFT), (401, 404, 403, 200, 200, 200)
    ),
    ("GET", "/api/v1/applications/<int:pk>/attachments/"): Case(_attachment, (401, 404, 200, 200, 200, 200)),
    ("POST", "/api/v1/applications/<int:pk>/attachments/"): Case(
        _new_attachment, (401, 404, 403, 201, 201, 403)
    ),
    ("GET", "/api/v1/applications/<int:pk>/attachments/<int:attachment_id>/"): Case(
        _attachment, (401, 404, 200, 200, 200, 200)
    ),
    ("DELETE", "/api/v1/applications/<int:pk>/attachments/<int:attachment_id>/"): Case(
        _attachment, (401, 404, 403, 204, 204, 403)
    ),
    ("GET", "/applications/<int:pk>/"): Case(_application(SUBMITTED), (302, 404, 200, 200, 200, 200)),
    ("GET", "/applications/<int:pk>/edit/"): Case(_application(DRAFT), (302, 404, 403, 200, 200, 403)),
    ("POST", "/applications/<int:pk>/edit/"): Case(
        _application(DRAFT, EVIDENCE_FORM), (302, 404, 403, DONE, DONE, 403)
    ),
    ("POST", "/applications/<int:pk>/evaluate/"): Case(
        _application(DRAFT), (302, 404, REFUSED, DONE, DONE, REFUSED)
    ),
    ("POST", "/applications/<int:pk>/submit/"): Case(
        _application(DRAFT), (302, 404, REFUSED, DONE, DONE, REFUSED)
    ),
    ("POST", "/applications/<int:pk>/resubmit/"): Case(
        _application(CHANGES), (302, 404, REFUSED, DONE, DONE, REFUSED)
    ),
    ("GET", "/applications/<int:pk>/withdraw/"): Case(
        _application(SUBMITTED), (302, 404, 403, 200, 200, 403)
    ),
    ("POST", "/applications/<int:pk>/withdraw/"): Case(
        _application(SUBMITTED), (302, 404, REFUSED, DONE, DONE, REFUSED)
    ),
    ("POST", "/applications/<int:pk>/documents/"): Case(
        _page_attachment, (302, 404, REFUSED, DONE, DONE, REFUSED)
    ),
    ("POST", "/applications/<int:pk>/documents/<int:attachment_id>/remove/"): Case(
        _attachment, (302, 404, REFUSED, DONE, DONE, REFUSED)
    ),
    # Whitelist entries: read by every member, changed by staff only
    ("GET", "/api/v1/whitelist-entries/<int:pk>/"): Case(_entry(), (401, 404, 200, 200, 200, 200)),
    ("PATCH", "/api/v1/whitelist-entries/<int:pk>/"): Case(
        _entry(body={"share_limit_per_hour": 3}), STAFF_ONLY_API
    ),
    ("POST", "/api/v1/whitelist-entries/<int:pk>/suspend/"): Case(
        _entry(body={"reason": "Spam."}), STAFF_ONLY_API
    ),
    ("POST", "/api/v1/whitelist-entries/<int:pk>/reinstate/"): Case(
        _entry(suspended=True, body={"reason": "Fixed."}), STAFF_ONLY_API
    ),
    ("POST", "/api/v1/whitelist-entries/<int:pk>/revoke/"): Case(
        _entry(body={"reason": "Fraud."}), STAFF_ONLY_API
    ),
    # Public by design: the platform's profile page and share button ask them for any account
    ("GET", "/api/v1/whitelist/<str:platform>/<platform_uid:platform_uid>/"): Case(_lookup, PUBLIC),
    ("GET", "/api/v1/profiles/<str:platform>/<platform_uid:platform_uid>/miniprograms/"): Case(
        _profile, PUBLIC
    ),
    # Mini programs, links and shares: changed by the owners and admins (and staff), shared by every member
    ("GET", "/api/v1/miniprograms/<int:pk>/"): Case(_miniprogram(), (401, 404, 200, 200, 200, 200)),
    ("PATCH", "/api/v1/miniprograms/<int:pk>/"): Case(
        _miniprogram({"name": "Alice Burger Order 2"}), (401, 404, 403, 200, 200, 200)
    ),
    ("PUT", "/api/v1/miniprograms/<int:pk>/icon/"): Case(_icon, (401, 404, 403, 200, 200, 200)),
    ("POST", "/api/v1/miniprograms/<int:pk>/delist/"): Case(_miniprogram({}), (401, 404, 403, 200, 200, 200)),
    ("POST", "/api/v1/miniprograms/<int:pk>/shares/"): Case(_share, (401, 404, 201, 201, 201, 403)),
    ("GET", "/api/v1/profile-links/<int:pk>/"): Case(_link(live=False), (401, 404, 200, 200, 200, 200)),
    ("POST", "/api/v1/profile-links/<int:pk>/approve/"): Case(_link(live=False, body={}), STAFF_ONLY_API),
    ("POST", "/api/v1/profile-links/<int:pk>/reject/"): Case(
        _link(live=False, body={"reason": "Not a match."}), STAFF_ONLY_API
    ),
    ("POST", "/api/v1/profile-links/<int:pk>/unlink/"): Case(
        _link(live=True, body={}), (401, 404, 403, 200, 200, 200)
    ),
    ("GET", "/miniprograms/<int:pk>/"): Case(_miniprogram(), (302, 404, 200, 200, 200, 200)),
    ("POST", "/miniprograms/<int:pk>/links/"): Case(_link_request, (302, 404, REFUSED, DONE, DONE, DONE)),
    ("GET", "/miniprograms/<int:pk>/links/<int:link_id>/unlink/"): Case(
        _page_link(), (302, 404, 403, 200, 200, 200)
    ),
    ("POST", "/miniprograms/<int:pk>/links/<int:link_id>/unlink/"): Case(
        _page_link(), (302, 404, REFUSED, DONE, DONE, DONE)
    ),
    ("POST", "/miniprograms/<int:pk>/links/<int:link_id>/share/"): Case(
        _page_link({"idempotency_key": "0" * 32}), (302, 404, DONE, DONE, DONE, REFUSED)
    ),
    # Webhooks: the owners' and admins' (a plain member does not see them), and staff's
    ("GET", "/api/v1/webhooks/<int:pk>/"): Case(_webhook(), (401, 404, 404, 200, 200, 200)),
    ("PATCH", "/api/v1/webhooks/<int:pk>/"): Case(
        _webhook({"description": "Renamed"}), (401, 404, 404, 200, 200, 200)
    ),
    ("DELETE", "/api/v1/webhooks/<int:pk>/"): Case(_webhook(), (401, 404, 404, 204, 204, 204)),
    ("POST", "/api/v1/webhooks/<int:pk>/rotate-secret/"): Case(_webhook(), (401, 404, 404, 200, 200, 200)),
    ("GET", "/api/v1/webhooks/<int:pk>/deliveries/"): Case(_webhook(), (401, 404, 404, 200, 200, 200)),
    ("POST", "/api/v1/webhooks/<int:pk>/deliveries/<int:delivery_id>/resend/"): Case(
        _delivery, (401, 404, 404, 202, 202, 202)
    ),
}

# Routes with a parameter that name no organization's object.
NOT_OBJECT_ROUTES = {
    # Django's password reset link: anonymous by design, checked by its signed token.
    "/password-reset/<uidb64>/<token>/",
    # The email confirmation link: anonymous by design, checked by its signed token.
    "/confirm-email/<str:token>/",
}

API_PREFIX = "/api/v1/"
SAMPLE = {"int": "2000000000", "str": "weibo"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _api_operations() -> set[tuple[str, str]]:
    operations = set()
    for route, callback in objects.routes():
        if not route.startswith(API_PREFIX) or not objects.has_parameters(route):
            continue
        view_class = getattr(callback, "view_class", None)
        if view_class is None:
            operations.add(("a function view: give it a class", route))
            continue
        for name in view_class.http_method_names:
            if name not in ("head", "options") and hasattr(view_class, name):
                operations.add((name.upper(), route))
    return operations


def _page_operations(client: Client) -> set[tuple[str, str]]:
    """The methods of each page with a parameter: all but those a signed-in user gets a 405 for."""
    operations = set()
    for route, _callback in objects.routes():
        if route.startswith(("/api/", "/admin/")) or route in NOT_OBJECT_ROUTES:
            continue
        if not objects.has_parameters(route):
            continue
        url = objects.PARAMETER.sub(lambda match: SAMPLE.get(match.group(1) or "str", "x"), route)
        for method in METHODS:
            if client.generic(method, url).status_code != 405:
                operations.add((method, route))
    return operations


# The table is complete


@pytest.mark.django_db
def test_matrix__every_object_operation__is_listed():
    client = Client()
    client.force_login(factories.merchant_register("prober")[0])
    found = _api_operations() | _page_operations(client)
    assert ("GET", "/applications/<int:pk>/") in found, "the URL walk found no page"
    assert ("GET", "/api/v1/accounts/<int:pk>/") in found, "the URL walk found no API route"
    missing = sorted(found - MATRIX.keys())
    assert not missing, f"add these operations to MATRIX with what each caller gets: {missing}"
    stale = sorted(MATRIX.keys() - found)
    assert not stale, f"these operations of MATRIX no longer exist: {stale}"


# Every operation, by every caller


@pytest.fixture
def world(db: None, policy: object) -> World:
    return objects.world_build()


@pytest.fixture
def fresh_share_quota() -> None:
    """Share quotas on Redis outlive the test database, whose ids start over on each run."""
    if settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("portal:share-quota:*"):
            client.delete(key)
        client.close()


# Every row an operation could write; a refused request must leave all of them as they were.
WATCHED: tuple[type[Model], ...] = (
    OfficialAccount,
    WhitelistApplication,
    ApplicationAttachment,
    Evaluation,
    ReviewEvent,
    WhitelistEntry,
    WhitelistEntryEvent,
    MiniProgram,
    ProfileLink,
    ProfileLinkEvent,
    Share,
    WebhookEndpoint,
    WebhookDelivery,
    WebhookAttempt,
)


def _rows() -> dict[str, list[dict[str, Any]]]:
    return {model.__name__: list(model._default_manager.order_by("pk").values()) for model in WATCHED}


def _send(world: World, caller: str, method: str, url: str, target: Target) -> Any:
    user = world.caller(caller)
    if url.startswith(API_PREFIX):
        api = APIClient()
        if user is not None:
            api.force_authenticate(user)
        if target.multipart:
            return getattr(api, method.lower())(url, target.body, format="multipart")
        data = json.dumps(target.body or {}) if method != "GET" else ""
        return api.generic(method, url, data=data, content_type="application/json")
    page = Client()
    if user is not None:
        page.force_login(user)
    if method == "GET":
        return page.get(url)
    return page.post(url, target.body or {})


def _text(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


CASES = [
    pytest.param(operation, caller, index, id=f"{operation[0]} {operation[1]} as {caller}")
    for operation in MATRIX
    for index, caller in enumerate(CALLERS)
]


@pytest.mark.django_db
@pytest.mark.parametrize(("operation", "caller", "index"), CASES)
def test_object_operation__caller__gets_the_expected_answer(
    operation: tuple[str, str], caller: str, index: int, world: World, fresh_share_quota: None
):
    # Given an object of Alice's organization, in the state where the operation succeeds
    method, route = operation
    case = MATRIX[operation]
    target = case.build(world)
    url = objects.fill(route, target.values)
    expected = case.expected[index]
    before = _rows()
    # When the caller sends the request
    response = _send(world, caller, method, url, target)
    # Then the caller gets the expected answer; a success changed stored rows and a refusal none
    if expected in (DONE, REFUSED):
        assert response.status_code == 302, _text(response)[:500]
        should_change = expected == DONE
    else:
        assert response.status_code == expected, _text(response)[:500]
        should_change = method != "GET" and response.status_code < 300
    assert (_rows() != before) is should_change, "stored rows changed" if not should_change else "no change"
    if caller == "anonymous":
        if url.startswith(API_PREFIX) and expected == 401:
            assert response["Content-Type"].startswith("application/problem+json")
        elif expected == 302:
            assert response["Location"].startswith("/login/?next=")
    if caller in ("anonymous", "other_merchant") and response.status_code >= 300:
        # Nothing of the object shows to someone outside the organization ...
        text = _text(response)
        leaked = [secret for secret in objects.secrets_of(world) if secret in text]
        assert not leaked, f"the answer shows {leaked}"
        # ... and the answer is the one for an object that does not exist.
        missing = _send(world, caller, method, objects.fill_missing(route, target.values), target)
        assert missing.status_code == response.status_code


# The same operations on an object in a state where a rule refuses them, by every caller


def _unverified_decision(world: World) -> Target:
    """A submitted application of an account staff never verified: approval fails a required criterion."""
    draft = whitelist_services.application_create(
        actor=world.owner, account=objects.unverified_account(world), data=objects.EVIDENCE
    )
    submitted = whitelist_services.application_submit(actor=world.owner, application=draft)
    return Target({"pk": submitted.pk}, {"message": "Welcome."})


# (method, route, the state) → what each of CALLERS gets, with the problem type of a 409.
STATE_MATRIX: dict[tuple[str, str, str], tuple[Case, str]] = {
    # An applicant's check runs only while the application can change; staff re-evaluate in any state.
    ("POST", "/api/v1/applications/<int:pk>/evaluate/", "submitted"): (
        Case(_application(SUBMITTED), (401, 404, 403, 409, 409, 200)),
        "urn:portal:problem:invalid-transition",
    ),
    ("POST", "/applications/<int:pk>/evaluate/", "submitted"): (
        Case(_application(SUBMITTED), (302, 404, REFUSED, REFUSED, REFUSED, REFUSED)),
        "",
    ),
    # Approval re-runs the criteria: an unverified account's application is refused (no override asked).
    ("POST", "/api/v1/applications/<int:pk>/approve/", "unverified account"): (
        Case(_unverified_decision, (401, 403, 403, 403, 403, 409)),
        "urn:portal:problem:criteria-not-met",
    ),
}

STATE_CASES = [
    pytest.param(operation, caller, index, id=f"{operation[0]} {operation[1]} ({operation[2]}) as {caller}")
    for operation in STATE_MATRIX
    for index, caller in enumerate(CALLERS)
]


@pytest.mark.django_db
@pytest.mark.parametrize(("operation", "caller", "index"), STATE_CASES)
def test_object_operation_in_refusing_state__caller__gets_the_expected_answer(
    operation: tuple[str, str, str], caller: str, index: int, world: World
):
    method, route, _state = operation
    case, conflict_type = STATE_MATRIX[operation]
    target = case.build(world)
    url = objects.fill(route, target.values)
    expected = case.expected[index]
    before = _rows()
    response = _send(world, caller, method, url, target)
    if expected in (DONE, REFUSED):
        assert response.status_code == 302, _text(response)[:500]
        should_change = expected == DONE
    else:
        assert response.status_code == expected, _text(response)[:500]
        should_change = response.status_code < 300
    assert (_rows() != before) is should_change, "stored rows changed" if not should_change else "no change"
    if response.status_code == 409:
        assert response.json()["type"] == conflict_type
