"""CSRF on every form: each merchant page that takes a POST refuses one without the token, each form the
pages render carries the token, and the API refuses a signed-in browser's write without it.

The pages and routes come from the URL resolver, so a new page or form handler is checked too: a page
with a parameter needs an entry in PAGE_TARGETS to be rendered, and a form handler must be the
target of a form that some rendered page shows.
"""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.test import Client
from django.urls import Resolver404, resolve
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authentication import SessionAuthentication
from rest_framework.test import APIClient

from accounts.links import email_confirmation_token
from accounts.models import User
from tests import factories
from whitelist.models import ApplicationState

from . import object_routes as objects
from .object_routes import World

API_PREFIX = "/api/"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
SAMPLE = {"int": "2000000000", "str": "weibo"}
CSRF_FAILURE = "refused by the CSRF check"
# A token of the unmasked form, sent both as the cookie and in the form or header.
TOKEN = "k" * 32


def csrf_refused(request: HttpRequest, reason: str = "") -> HttpResponse:
    """The CSRF failure view while these tests run, so that a refusal is told from the site's pages."""
    return HttpResponseForbidden(f"{CSRF_FAILURE}: {reason}")


@pytest.fixture(autouse=True)
def _csrf_refusals_told_apart(settings: Any) -> None:
    settings.CSRF_FAILURE_VIEW = f"{__name__}.csrf_refused"


def sample_url(route: str) -> str:
    return objects.PARAMETER.sub(lambda match: SAMPLE.get(match.group(1) or "str", "x"), route)


def page_routes() -> list[str]:
    """The merchant site's routes: all but the API and the admin."""
    return sorted(route for route, _view in objects.routes() if not route.startswith((API_PREFIX, "/admin/")))


def _prober() -> User:
    return User.objects.filter(username="prober").first() or factories.merchant_register("prober")[0]


def _answer(method: str, route: str) -> int:
    client = Client()
    client.force_login(_prober())
    return client.generic(method, sample_url(route)).status_code


def post_routes() -> list[str]:
    """The pages that take a POST: those that do not answer a signed-in user's POST with 405."""
    return [route for route in page_routes() if _answer("POST", route) != 405]


# Every page that takes a POST refuses one without the token


@pytest.mark.django_db
def test_post_routes__are_found():
    found = post_routes()
    for expected in ("/login/", "/logout/", "/signup/", "/applications/<int:pk>/submit/"):
        assert expected in found
    assert "/applications/" not in found, "a GET-only page"


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [True, False], ids=["signed in", "anonymous"])
def test_every_post_route__post_without_csrf_token__is_403(signed_in: bool):
    user = _prober()
    for route in post_routes():
        client = Client(enforce_csrf_checks=True)
        if signed_in:
            client.force_login(user)
        url = sample_url(route)
        # Without the token: refused before the view runs
        response = client.post(url, {"username": user.username, "password": factories.DEFAULT_PASSWORD})
        assert response.status_code == 403, route
        assert CSRF_FAILURE in response.content.decode(), route
        # With it: past the check (whatever the view then says), so the refusal above was the token's
        client.cookies[settings.CSRF_COOKIE_NAME] = TOKEN
        response = client.post(url, {"csrfmiddlewaretoken": TOKEN})
        assert CSRF_FAILURE not in response.content.decode(), route


@pytest.mark.django_db
def test_logout__post_without_csrf_token__keeps_the_session():
    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.merchant_register("still_here")[0])
    assert client.post("/logout/").status_code == 403
    assert client.get("/applications/").status_code == 200


# Every form that the pages render carries the token

FORM = re.compile(r"<form\b(?P<attributes>[^>]*)>(?P<body>.*?)</form>", re.S | re.I)
ATTRIBUTE = re.compile(r"""(?P<name>[\w-]+)\s*=\s*(?P<q>["'])(?P<value>.*?)(?P=q)""", re.S)
TOKEN_INPUT = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="[^"]{32,}">')


def _post_forms(html: str, page_url: str) -> list[tuple[str, str]]:
    """(action URL, form HTML) of each POST form of a page."""
    forms = []
    for match in FORM.finditer(html):
        attributes = {
            m.group("name").lower(): m.group("value") for m in ATTRIBUTE.finditer(match["attributes"])
        }
        if attributes.get("method", "get").lower() == "post":
            forms.append((attributes.get("action") or page_url, match.group(0)))
    return forms


def _route_of(url: str) -> str:
    return "/" + resolve(url.split("?")[0].split("#")[0]).route


PageTarget = Callable[[World], tuple[str, Any]]


def _application_page(state: str, suffix: str = "") -> PageTarget:
    def build(world: World) -> tuple[str, Any]:
        application = objects.application(world, state)
        if state == ApplicationState.DRAFT:
            objects.attachment_to(world, application)
        return f"/applications/{application.pk}/{suffix}", world.owner

    return build


def _miniprogram_page(world: World) -> tuple[str, Any]:
    link = objects.link(world)
    return f"/miniprograms/{link.miniprogram_id}/", world.owner


def _unlink_page(world: World) -> tuple[str, Any]:
    link = objects.link(world)
    return f"/miniprograms/{link.miniprogram_id}/links/{link.pk}/unlink/", world.owner


def _password_reset_page(world: World) -> tuple[str, Any]:
    # Not the owner: signing in (as the other pages do) changes the last log-in, which voids the link.
    uid = urlsafe_base64_encode(force_bytes(world.member.pk))
    return f"/password-reset/{uid}/{default_token_generator.make_token(world.member)}/", None


def _email_confirm_page(world: World) -> tuple[str, Any]:
    # Signed in with an unconfirmed address, so the header's resend form shows too.
    user, _organization = factories.merchant_register("unconfirmed", confirmed=False)
    return f"/confirm-email/{email_confirmation_token(user)}/", user


# Each page with a parameter, rendered with an object in the state that shows its forms.
PAGE_TARGETS: dict[str, list[PageTarget]] = {
    "/accounts/<int:pk>/edit/": [
        lambda world: (f"/accounts/{objects.account(world).pk}/edit/", world.owner),
        # Unverified, the page also shows the form that asks for verification.
        lambda world: (f"/accounts/{objects.unverified_account(world).pk}/edit/", world.owner),
    ],
    "/applications/<int:pk>/": [
        _application_page(ApplicationState.DRAFT),
        _application_page(ApplicationState.SUBMITTED),
        _application_page(ApplicationState.CHANGES_REQUESTED),
    ],
    "/applications/<int:pk>/edit/": [_application_page(ApplicationState.DRAFT, "edit/")],
    "/applications/<int:pk>/withdraw/": [_application_page(ApplicationState.SUBMITTED, "withdraw/")],
    "/miniprograms/<int:pk>/": [_miniprogram_page],
    "/miniprograms/<int:pk>/links/<int:link_id>/unlink/": [_unlink_page],
    "/password-reset/<uidb64>/<token>/": [_password_reset_page],
    "/confirm-email/<str:token>/": [_email_confirm_page],
}
# Pages that take a POST without being a form's target: they answer any method as a GET.
NOT_FORM_TARGETS = {"/"}


@pytest.fixture
def world(db: None, policy: object) -> World:
    return objects.world_build()


def _render(url: str, user: Any) -> tuple[str, str]:
    """The final URL and HTML of a page, for the user, or anonymously when it sends a signed-in user away."""
    client = Client()
    if user is not None:
        client.force_login(user)
    response = client.get(url, follow=True)
    if user is not None and response.redirect_chain and not response.redirect_chain[-1][0].startswith(url):
        return _render(url, None)
    assert response.status_code == 200, (url, response.status_code)
    final = response.redirect_chain[-1][0] if response.redirect_chain else url
    return final, response.content.decode()


@pytest.mark.django_db
def test_every_page__each_post_form_carries_the_csrf_token_and_every_form_handler_has_a_form(world: World):
    # Given every GET page of the site, those with a parameter rendered for real objects
    pages: list[tuple[str, Any]] = []
    for route in page_routes():
        if _answer("GET", route) == 405:
            continue  # a form handler without a page of its own (the transitions)
        if objects.has_parameters(route):
            assert route in PAGE_TARGETS, f"add {route} to PAGE_TARGETS so that its forms are checked"
            pages += [build(world) for build in PAGE_TARGETS[route]]
        else:
            pages.append((route, world.owner))
    # When each is rendered
    targets: set[str] = set()
    for url, user in pages:
        final, html = _render(url, user)
        for action, form in _post_forms(html, final):
            # Then every POST form carries the token
            assert TOKEN_INPUT.search(form), f"a form of {final} posting to {action} has no CSRF token"
            try:
                targets.add(_route_of(action))
            except Resolver404:
                pytest.fail(f"a form of {final} posts to {action}, which is no page")
    # And every page that takes a POST is the target of one of those forms
    untargeted = sorted(set(post_routes()) - targets - NOT_FORM_TARGETS)
    assert not untargeted, f"no rendered form posts to {untargeted}; render a page that shows it"


# The API: a signed-in browser's write needs the token too


def _session_operations() -> list[tuple[str, str]]:
    operations = []
    for route, view in objects.routes():
        view_class = getattr(view, "view_class", None)
        if not route.startswith(API_PREFIX) or view_class is None:
            continue
        authentication = getattr(view_class, "authentication_classes", [])
        if not any(issubclass(cls, SessionAuthentication) for cls in authentication):
            continue
        operations += [(method, route) for method in UNSAFE if hasattr(view_class, method.lower())]
    return operations


def test_api_session_operations__are_found():
    operations = _session_operations()
    assert ("POST", "/api/v1/applications/<int:pk>/submit/") in operations
    assert ("DELETE", "/api/v1/webhooks/<int:pk>/") in operations
    assert not [route for _method, route in operations if route.startswith("/api/v1/auth/")]


@pytest.mark.django_db
def test_every_api_write__signed_in_browser_without_csrf_token__is_403():
    user = factories.merchant_register("browser")[0]
    for method, route in _session_operations():
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(user)
        url = sample_url(route)
        response = client.generic(method, url, "{}", content_type="application/json")
        assert response.status_code == 403, (method, route, response.status_code)
        assert response["Content-Type"].startswith("application/problem+json")
        assert "CSRF" in response.json()["detail"], (method, route)
        client.cookies[settings.CSRF_COOKIE_NAME] = TOKEN
        response = client.generic(method, url, "{}", content_type="application/json", HTTP_X_CSRFTOKEN=TOKEN)
        assert "CSRF" not in response.content.decode(), (method, route)
