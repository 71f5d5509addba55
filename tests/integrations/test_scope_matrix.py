"""Which API operations an API key may call, with which scope, and that a key of one organization
stays inside it.

SCOPE_MATRIX is the one list of every operation under /api/v1/: a new endpoint fails
`test_scope_matrix__every_api_operation__is_listed` until it is added here with the scope a key
needs for it, or None when keys must be refused.
"""

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.scopes import Scope
from miniprograms.models import ProfileLink, Share
from whitelist.models import WhitelistEntry

from .conftest import IssueKey, KeyClient

API_PREFIX = "/api/v1/"
PROBLEM = "application/problem+json"

# (method, route) → the scope a key needs; None: the operation refuses every key.
SCOPE_MATRIX: dict[tuple[str, str], Scope | None] = {
    # accounts
    ("POST", "/api/v1/auth/register/"): None,
    ("POST", "/api/v1/auth/token/"): None,
    ("GET", "/api/v1/verticals/"): None,
    ("GET", "/api/v1/accounts/"): None,
    ("POST", "/api/v1/accounts/"): None,
    ("POST", "/api/v1/accounts/bulk-upsert/"): Scope.ACCOUNTS_WRITE,
    ("GET", "/api/v1/accounts/<int:pk>/"): None,
    ("PATCH", "/api/v1/accounts/<int:pk>/"): None,
    ("POST", "/api/v1/accounts/<int:pk>/verify/"): None,
    ("POST", "/api/v1/accounts/<int:pk>/request-verification/"): None,
    # whitelist applications
    ("GET", "/api/v1/applications/"): None,
    ("POST", "/api/v1/applications/"): None,
    ("GET", "/api/v1/applications/<int:pk>/"): None,
    ("PATCH", "/api/v1/applications/<int:pk>/"): None,
    ("POST", "/api/v1/applications/<int:pk>/submit/"): None,
    ("POST", "/api/v1/applications/<int:pk>/withdraw/"): None,
    ("POST", "/api/v1/applications/<int:pk>/resubmit/"): None,
    ("POST", "/api/v1/applications/<int:pk>/approve/"): None,
    ("POST", "/api/v1/applications/<int:pk>/reject/"): None,
    ("POST", "/api/v1/applications/<int:pk>/request-changes/"): None,
    ("GET", "/api/v1/applications/<int:pk>/events/"): None,
    ("POST", "/api/v1/applications/<int:pk>/evaluate/"): None,
    ("GET", "/api/v1/applications/<int:pk>/attachments/"): None,
    ("POST", "/api/v1/applications/<int:pk>/attachments/"): None,
    ("GET", "/api/v1/applications/<int:pk>/attachments/<int:attachment_id>/"): None,
    ("DELETE", "/api/v1/applications/<int:pk>/attachments/<int:attachment_id>/"): None,
    # whitelist entries and the lookup
    ("GET", "/api/v1/whitelist-entries/"): Scope.WHITELIST_READ,
    ("GET", "/api/v1/whitelist-entries/<int:pk>/"): Scope.WHITELIST_READ,
    ("PATCH", "/api/v1/whitelist-entries/<int:pk>/"): None,
    ("POST", "/api/v1/whitelist-entries/<int:pk>/suspend/"): None,
    ("POST", "/api/v1/whitelist-entries/<int:pk>/reinstate/"): None,
    ("POST", "/api/v1/whitelist-entries/<int:pk>/revoke/"): None,
    ("GET", "/api/v1/whitelist/<str:platform>/<platform_uid:platform_uid>/"): Scope.WHITELIST_READ,
    # mini programs, shares, profiles and links
    ("GET", "/api/v1/miniprograms/"): None,
    ("POST", "/api/v1/miniprograms/"): None,
    ("GET", "/api/v1/miniprograms/<int:pk>/"): None,
    ("PATCH", "/api/v1/miniprograms/<int:pk>/"): None,
    ("PUT", "/api/v1/miniprograms/<int:pk>/icon/"): None,
    ("POST", "/api/v1/miniprograms/<int:pk>/delist/"): None,
    ("POST", "/api/v1/miniprograms/<int:pk>/shares/"): Scope.SHARES_WRITE,
    ("GET", "/api/v1/accounts/<int:pk>/quota/"): Scope.SHARES_WRITE,
    ("GET", "/api/v1/shares/"): None,
    ("GET", "/api/v1/profiles/<str:platform>/<platform_uid:platform_uid>/miniprograms/"): Scope.PROFILES_READ,
    ("GET", "/api/v1/profile-links/"): None,
    ("POST", "/api/v1/profile-links/"): None,
    ("GET", "/api/v1/profile-links/<int:pk>/"): None,
    ("POST", "/api/v1/profile-links/<int:pk>/approve/"): None,
    ("POST", "/api/v1/profile-links/<int:pk>/reject/"): None,
    ("POST", "/api/v1/profile-links/<int:pk>/unlink/"): None,
    # webhooks: managed by signed-in owners, admins and staff, never by a key
    ("GET", "/api/v1/webhooks/"): None,
    ("POST", "/api/v1/webhooks/"): None,
    ("GET", "/api/v1/webhooks/<int:pk>/"): None,
    ("PATCH", "/api/v1/webhooks/<int:pk>/"): None,
    ("DELETE", "/api/v1/webhooks/<int:pk>/"): None,
    ("POST", "/api/v1/webhooks/<int:pk>/rotate-secret/"): None,
    ("GET", "/api/v1/webhooks/<int:pk>/deliveries/"): None,
    ("POST", "/api/v1/webhooks/<int:pk>/deliveries/<int:delivery_id>/resend/"): None,
}


@dataclass(frozen=True)
class Call:
    """A request that a key holding the operation's scope must get a real answer to."""

    url: str
    body: dict[str, Any] | None
    status: int


def _entry_id(link: ProfileLink) -> int:
    return WhitelistEntry.objects.get(account=link.account).pk


# For each operation with a scope: a call on a live link's data that must succeed.
GRANTED_CALLS: dict[tuple[str, str], Callable[[ProfileLink], Call]] = {
    ("POST", "/api/v1/accounts/bulk-upsert/"): lambda link: Call(
        "/api/v1/accounts/bulk-upsert/",
        {
            "accounts": [
                {
                    "platform_uid": link.account.platform_uid,
                    "screen_name": "Renamed by the directory",
                    "kind": "enterprise",
                    "vertical": "commerce",
                    "followers_count": 300_000,
                }
            ]
        },
        200,
    ),
    ("GET", "/api/v1/whitelist-entries/"): lambda link: Call("/api/v1/whitelist-entries/", None, 200),
    ("GET", "/api/v1/whitelist-entries/<int:pk>/"): lambda link: Call(
        f"/api/v1/whitelist-entries/{_entry_id(link)}/", None, 200
    ),
    ("GET", "/api/v1/whitelist/<str:platform>/<platform_uid:platform_uid>/"): lambda link: Call(
        f"/api/v1/whitelist/{link.account.platform}/{link.account.platform_uid}/", None, 200
    ),
    ("POST", "/api/v1/miniprograms/<int:pk>/shares/"): lambda link: Call(
        f"/api/v1/miniprograms/{link.miniprogram_id}/shares/", {"account": link.account_id}, 201
    ),
    ("GET", "/api/v1/accounts/<int:pk>/quota/"): lambda link: Call(
        f"/api/v1/accounts/{link.account_id}/quota/", None, 200
    ),
    ("GET", "/api/v1/profiles/<str:platform>/<platform_uid:platform_uid>/miniprograms/"): lambda link: Call(
        f"/api/v1/profiles/{link.account.platform}/{link.account.platform_uid}/miniprograms/", None, 200
    ),
}


def _routes(patterns: Iterable[URLPattern | URLResolver], prefix: str) -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route, pattern.callback


def api_operations() -> set[tuple[str, str]]:
    """(method, route) of every view under /api/v1/, from the URL resolver and the views' methods."""
    operations = set()
    for route, callback in _routes(get_resolver().url_patterns, "/"):
        if not route.startswith(API_PREFIX):
            continue
        view_class = getattr(callback, "view_class", None)
        if view_class is None:
            operations.add(("a function view: give it a class", route))
            continue
        for name in view_class.http_method_names:
            # HEAD and OPTIONS follow GET for a key (api_key_scopes_of); they need no row of their own.
            if name not in ("head", "options") and hasattr(view_class, name):
                operations.add((name.upper(), route))
    return operations


def sample_url(route: str) -> str:
    """The route with a placeholder value for each parameter (keys are refused before any lookup)."""
    samples = {"int": "1", "str": "weibo"}
    return re.sub(r"<(?:(\w+):)?\w+>", lambda match: samples.get(match.group(1) or "str", "x"), route)


def send(client: APIClient, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body if body is not None else {}) if method not in ("GET", "DELETE") else ""
    return client.generic(method, url, data=data, content_type="application/json")


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def _operation_id(operation: tuple[str, str]) -> str:
    return f"{operation[0]} {operation[1].removeprefix(API_PREFIX)}"


KEYLESS_CASES = [
    pytest.param(operation, scope, id=f"{_operation_id(operation)} with {scope.value}")
    for operation, needed in SCOPE_MATRIX.items()
    if needed is None
    for scope in Scope
]
GRANTED_CASES = [
    pytest.param(operation, needed, id=f"{_operation_id(operation)} with {needed.value}")
    for operation, needed in SCOPE_MATRIX.items()
    if needed is not None
]
OTHER_SCOPE_CASES = [
    pytest.param(operation, needed, scope, id=f"{_operation_id(operation)} with {scope.value}")
    for operation, needed in SCOPE_MATRIX.items()
    if needed is not None
    for scope in Scope
    if scope != needed
]


# The table is complete


def test_scope_matrix__every_api_operation__is_listed():
    found = api_operations()
    assert ("GET", "/api/v1/whitelist-entries/") in found, "the URL walk found nothing under /api/v1/"
    missing = sorted(found - SCOPE_MATRIX.keys())
    assert not missing, f"add these operations to SCOPE_MATRIX with the scope a key needs, or None: {missing}"
    stale = sorted(SCOPE_MATRIX.keys() - found)
    assert not stale, f"these operations of SCOPE_MATRIX no longer exist: {stale}"


def test_scope_matrix__every_scoped_operation__has_a_granted_call():
    scoped = {operation for operation, scope in SCOPE_MATRIX.items() if scope is not None}
    assert scoped == GRANTED_CALLS.keys()


def test_scope_matrix__every_scope__opens_some_operation():
    assert set(Scope) == {scope for scope in SCOPE_MATRIX.values() if scope is not None}


# Every operation, with every scope


@pytest.mark.django_db
@pytest.mark.parametrize(("operation", "scope"), KEYLESS_CASES)
def test_operation_without_scope__any_key__is_403_problem(
    operation: tuple[str, str], scope: Scope, issue_key: IssueKey, key_client: KeyClient
):
    # Given a platform-wide key holding one scope
    _key, secret = issue_key(scope)
    # When it calls an operation that no scope opens
    method, route = operation
    response = send(key_client(secret), method, sample_url(route))
    # Then it is refused as a key, not as an unknown caller
    body = assert_problem(response, 403)
    assert "API keys cannot be used on this endpoint" in body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(("operation", "scope"), GRANTED_CASES)
def test_operation_with_scope__key_holding_it__is_served(
    operation: tuple[str, str],
    scope: Scope,
    issue_key: IssueKey,
    key_client: KeyClient,
    live_link: ProfileLink,
):
    # Given a platform-wide key holding exactly the operation's scope, and a live link to act on
    _key, secret = issue_key(scope)
    call = GRANTED_CALLS[operation](live_link)
    # When it calls the operation
    response = send(key_client(secret), operation[0], call.url, call.body)
    # Then it gets the real answer
    assert response.status_code == call.status, response.content
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize(("operation", "needed", "scope"), OTHER_SCOPE_CASES)
def test_operation_with_scope__key_holding_another__is_403_naming_the_scope(
    operation: tuple[str, str], needed: Scope, scope: Scope, issue_key: IssueKey, key_client: KeyClient
):
    # Given a platform-wide key holding a scope other than the one the operation needs
    _key, secret = issue_key(scope)
    # When it calls the operation
    method, route = operation
    response = send(key_client(secret), method, sample_url(route))
    # Then it is refused, and told which scope is missing
    body = assert_problem(response, 403)
    assert needed.value in body["detail"]


@pytest.mark.django_db
def test_key_with_every_scope__operation_without_scope__is_still_403(
    issue_key: IssueKey, key_client: KeyClient, account
):
    _key, secret = issue_key(*Scope.values)
    response = key_client(secret).get(f"/api/v1/accounts/{account.pk}/")
    body = assert_problem(response, 403)
    assert "API keys cannot be used on this endpoint" in body["detail"]
    assert "Alice Foods" not in response.text


# Organization keys stay inside their organization

# An organization's object reached through each operation a key may call on one object.
OBJECT_CALLS: dict[str, tuple[Scope, str, Callable[[ProfileLink], Call]]] = {
    "entry": (
        Scope.WHITELIST_READ,
        "GET",
        GRANTED_CALLS[("GET", "/api/v1/whitelist-entries/<int:pk>/")],
    ),
    "quota": (Scope.SHARES_WRITE, "GET", GRANTED_CALLS[("GET", "/api/v1/accounts/<int:pk>/quota/")]),
    "share": (Scope.SHARES_WRITE, "POST", GRANTED_CALLS[("POST", "/api/v1/miniprograms/<int:pk>/shares/")]),
}


@pytest.mark.django_db
@pytest.mark.parametrize("subject", sorted(OBJECT_CALLS))
def test_organization_key__other_organizations_object__is_404_without_data(
    subject: str,
    issue_key: IssueKey,
    key_client: KeyClient,
    organization,
    live_link: ProfileLink,
    other_live_link: ProfileLink,
):
    # Given a key of Alice's organization with the scope the operation needs
    scope, method, make_call = OBJECT_CALLS[subject]
    _key, secret = issue_key(scope, organization=organization)
    # When it reaches for Bob's object
    call = make_call(other_live_link)
    response = send(key_client(secret), method, call.url, call.body)
    # Then the object does not exist for it, nothing of it shows and nothing is written
    body = assert_problem(response, 404)
    assert set(body) <= {"type", "title", "status", "detail"}
    assert other_live_link.account.screen_name not in response.text
    assert not Share.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("subject", sorted(OBJECT_CALLS))
def test_organization_key__own_organizations_object__is_served(
    subject: str, issue_key: IssueKey, key_client: KeyClient, organization, live_link: ProfileLink
):
    scope, method, make_call = OBJECT_CALLS[subject]
    _key, secret = issue_key(scope, organization=organization)
    call = make_call(live_link)
    response = send(key_client(secret), method, call.url, call.body)
    assert response.status_code == call.status, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("subject", sorted(OBJECT_CALLS))
def test_platform_key__any_organizations_object__is_served(
    subject: str,
    issue_key: IssueKey,
    key_client: KeyClient,
    live_link: ProfileLink,
    other_live_link: ProfileLink,
):
    scope, method, make_call = OBJECT_CALLS[subject]
    _key, secret = issue_key(scope)
    for link in (live_link, other_live_link):
        call = make_call(link)
        response = send(key_client(secret), method, call.url, call.body)
        assert response.status_code == call.status, (link.account.screen_name, response.content)


@pytest.mark.django_db
def test_entry_list__organization_key__lists_only_its_organizations_entries(
    issue_key: IssueKey,
    key_client: KeyClient,
    organization,
    live_link: ProfileLink,
    other_live_link: ProfileLink,
):
    # Given an entry in each organization
    own, other = _entry_id(live_link), _entry_id(other_live_link)
    _org_key, org_secret = issue_key(Scope.WHITELIST_READ, organization=organization)
    _platform_key, platform_secret = issue_key(Scope.WHITELIST_READ)
    # When each key lists the entries
    org_response = key_client(org_secret).get("/api/v1/whitelist-entries/")
    platform_response = key_client(platform_secret).get("/api/v1/whitelist-entries/")
    # Then the organization's key sees its own and the platform-wide key sees both
    assert org_response.status_code == 200
    assert [entry["id"] for entry in org_response.json()["results"]] == [own]
    assert org_response.json()["count"] == 1
    assert platform_response.status_code == 200
    assert {entry["id"] for entry in platform_response.json()["results"]} == {own, other}


@pytest.mark.django_db
def test_entry_list__organization_key_filtering_by_other_account__is_empty(
    issue_key: IssueKey, key_client: KeyClient, organization, live_link, other_live_link
):
    _key, secret = issue_key(Scope.WHITELIST_READ, organization=organization)
    response = key_client(secret).get("/api/v1/whitelist-entries/", {"account": other_live_link.account_id})
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.django_db
def test_share__organization_key_for_other_organizations_account__is_400_and_nothing_recorded(
    issue_key: IssueKey, key_client: KeyClient, organization, live_link, other_live_link
):
    # Given a key of Alice's organization, on Alice's mini program
    _key, secret = issue_key(Scope.SHARES_WRITE, organization=organization)
    # When it shares for Bob's account
    response = key_client(secret).post(
        f"/api/v1/miniprograms/{live_link.miniprogram_id}/shares/",
        {"account": other_live_link.account_id},
        format="json",
    )
    # Then Bob's account is unknown to it, as a made-up id would be
    body = assert_problem(response, 400)
    assert "account" in body["errors"]
    assert not Share.objects.exists()
