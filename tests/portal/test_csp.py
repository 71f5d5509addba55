"""Content-Security-Policy: every page carries a strict policy, and no page has inline script or style."""

import re
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.links import email_confirmation_token
from accounts.models import User
from miniprograms.models import MiniProgram, ProfileLink
from tests.csp import inline_code, page_problems, policy_directives
from whitelist.models import ApplicationState, WhitelistApplication

# Paths under these prefixes are not merchant pages: the admin and the API have their own tests below.
NOT_MERCHANT_PAGES = ("admin/", "api/", "healthz")


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    arguments: tuple[str, ...]


def site_routes(
    patterns: list[URLPattern | URLResolver] | None = None, prefix: str = "", namespace: str = ""
) -> list[Route]:
    """Every named URL pattern of the site, from the URL resolver, so a new page is checked too."""
    routes: list[Route] = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            routes += site_routes(pattern.url_patterns, route, inner)
        elif pattern.name:
            arguments = tuple(pattern.pattern.converters) if hasattr(pattern.pattern, "converters") else ()
            routes.append(Route(f"{namespace}{pattern.name}", route, arguments))
    return routes


@dataclass(frozen=True)
class Demo:
    staff: User
    merchant: User
    arguments: dict[tuple[str, str], object]


@pytest.fixture
def demo(db: None) -> Demo:
    """The quick start's demo data: staff, two merchants, accounts, applications, mini programs, links."""
    call_command("seed_demo", stdout=StringIO())
    merchant = User.objects.get(username="gov_demo")
    draft = WhitelistApplication.objects.get(
        account__organization__memberships__user=merchant, state=ApplicationState.DRAFT
    )
    miniprogram = MiniProgram.objects.filter(organization__memberships__user=merchant).order_by("pk").first()
    link = ProfileLink.objects.filter(miniprogram=miniprogram).order_by("pk").first()
    assert miniprogram is not None and link is not None
    # The value of each URL argument, by the route's first segment and the argument's name.
    arguments: dict[tuple[str, str], object] = {
        ("accounts", "pk"): draft.account_id,
        ("applications", "pk"): draft.pk,
        ("applications", "attachment_id"): 1,  # a POST-only action; any number reaches it
        ("miniprograms", "pk"): miniprogram.pk,
        ("miniprograms", "link_id"): link.pk,
        ("password-reset", "uidb64"): urlsafe_base64_encode(force_bytes(merchant.pk)),
        ("password-reset", "token"): default_token_generator.make_token(merchant),
        ("confirm-email", "token"): email_confirmation_token(merchant),
    }
    return Demo(staff=User.objects.get(username="staff"), merchant=merchant, arguments=arguments)


def merchant_page_urls(demo: Demo) -> list[str]:
    urls = []
    for route in site_routes():
        if route.route.startswith(NOT_MERCHANT_PAGES):
            continue
        segment = route.route.split("/", 1)[0]
        missing = [name for name in route.arguments if (segment, name) not in demo.arguments]
        assert not missing, f"{route.name} ({route.route}): give test_csp a value for {missing}"
        kwargs = {name: demo.arguments[(segment, name)] for name in route.arguments}
        urls.append(reverse(route.name, kwargs=kwargs))
    return urls


def problems_of(client: Client, urls: list[str]) -> dict[str, list[str]]:
    found = {}
    for url in urls:
        response = client.get(url, follow=True)
        problems = page_problems(response)
        if problems:
            found[url] = problems
    return found


def test_merchant_pages__anonymous_and_merchant__strict_policy_and_no_inline_code(demo):
    # Given every merchant page of the URL configuration, with the demo's objects as arguments
    urls = merchant_page_urls(demo)
    assert {"/", "/login/", "/applications/", "/miniprograms/"} <= set(urls)
    anonymous, merchant = Client(), Client()
    merchant.force_login(demo.merchant)
    # When a visitor and a signed-in merchant open each of them (and follow where it redirects)
    # Then each answer has the strict policy, and no page has inline code
    assert problems_of(anonymous, urls) == {}
    assert problems_of(merchant, urls) == {}
    # (and the merchant's pages were its own, not log-in redirects)
    assert "Hangzhou Citizen Services" in merchant.get("/miniprograms/").content.decode()


def admin_page_urls() -> list[str]:
    """The admin's own pages and, for every registered model, each of its pages for its first object."""
    urls = [reverse("admin:index"), reverse("admin:password_change"), reverse("admin:password_change_done")]
    urls += sorted(
        {reverse("admin:app_list", args=[model._meta.app_label]) for model in admin.site._registry}
    )
    named_arguments = {"decision": "request_changes"}
    for model, model_admin in admin.site._registry.items():
        first = model._default_manager.order_by("pk").first()
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            arguments = list(getattr(pattern.pattern, "converters", {})) or re.findall(
                r"\(\?P<(\w+)>", str(pattern.pattern)
            )
            kwargs: dict[str, object] = {}
            for name in arguments:
                if name in ("object_id", "pk", "id"):
                    kwargs[name] = first.pk if first is not None else None
                else:
                    assert name in named_arguments, f"admin:{pattern.name}: give test_csp a value for {name}"
                    kwargs[name] = named_arguments[name]
            if None in kwargs.values():
                continue  # no row of this model in the demo: its changelist and add page still count
            urls.append(reverse(f"admin:{pattern.name}", kwargs=kwargs))
    return urls


def test_admin_pages__staff__strict_policy_and_no_inline_code(demo):
    # Given the admin's index, app lists, and every model's changelist, add, change, history and
    # delete-confirmation pages (for its first demo row), plus the project's own admin pages
    urls = admin_page_urls()
    assert reverse("admin:whitelist_whitelistapplication_changelist") in urls
    assert any(re.search(r"/admin/whitelist/whitelistapplication/\d+/change/$", url) for url in urls)
    staff = Client()
    staff.force_login(demo.staff)
    # When staff open each one
    # Then each answer has the strict policy and no page has inline code
    assert problems_of(staff, urls) == {}


def test_admin_login__anonymous__strict_policy_and_no_inline_code(db):
    response = Client().get("/admin/login/")
    assert response.status_code == 200
    assert page_problems(response) == []


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs__page_and_its_script__strict_policy_and_no_inline_code(client, db, path):
    # When someone opens the API documentation
    response = client.get(path)
    # Then the page loads its scripts and styles from files under the strict policy
    assert response.status_code == 200
    assert page_problems(response) == []
    scripts = re.findall(r'<script src="([^"]+)"', response.content.decode())
    assert scripts
    for src in scripts:
        script = client.get(src)
        assert script.status_code == 200, src
        assert script["Content-Type"].startswith(("application/javascript", "text/javascript")), src


def test_swagger_ui__start_up_script__served_apart_with_the_schema_url(client, db):
    page = client.get("/api/docs/").content.decode()
    assert '<script src="/api/docs/?script="></script>' in page
    script = client.get("/api/docs/", {"script": ""})
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode() and "/api/schema/" in script.content.decode()
    assert not any(source.startswith("'nonce-") for source in policy_directives(script)["style-src"])


def test_redoc__style_nonce__is_the_start_up_scripts_and_only_on_that_page(client, db):
    # Redoc writes its styles at run time; they may use the nonce of the page, and no other page gets one
    response = client.get("/api/redoc/")
    nonce = re.search(
        r'<script src="/static/api_docs/redoc_init.js" nonce="([^"]+)"', response.content.decode()
    )
    assert nonce is not None
    assert policy_directives(response)["style-src"] == ["'self'", f"'nonce-{nonce.group(1)}'"]
    assert policy_directives(response)["worker-src"] == ["blob:"]
    assert client.get("/api/redoc/")["Content-Security-Policy"] != response["Content-Security-Policy"]
    assert policy_directives(client.get("/login/"))["style-src"] == ["'self'"]


def test_error_pages__not_found_and_csrf_failure__strict_policy_and_no_inline_code(client, db):
    not_found = client.get("/no-such-page/")
    assert not_found.status_code == 404
    assert page_problems(not_found) == []
    # Django's own CSRF failure page has an inline style; the project's 403_csrf.html replaces it
    csrf_checking = Client(enforce_csrf_checks=True)
    refused = csrf_checking.post("/login/", {"username": "someone", "password": "anything"})
    assert refused.status_code == 403
    assert page_problems(refused) == []
    assert "<html" in refused.content.decode()


def test_api_response__carries_the_policy_too(api_client, db):
    response = api_client.get("/api/v1/verticals/")
    assert response.status_code == 401
    assert policy_directives(response)["default-src"] == ["'self'"]


def project_templates() -> list[Path]:
    folders = [Path(folder) for folder in settings.TEMPLATES[0]["DIRS"]]
    folders += [
        Path(app.path) / "templates"
        for app in apps.get_app_configs()
        if Path(app.path).is_relative_to(settings.BASE_DIR) and ".venv" not in Path(app.path).parts
    ]
    return sorted(path for folder in folders if folder.is_dir() for path in folder.rglob("*.html"))


INLINE_CODE_IN_TEMPLATE = re.compile(
    r"<script\b(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=", flags=re.IGNORECASE
)


def test_project_templates__have_no_inline_code():
    # Also the templates no test request renders, such as 500.html
    templates = project_templates()
    assert Path(settings.BASE_DIR / "templates" / "500.html") in templates
    found = {
        str(path.relative_to(settings.BASE_DIR)): INLINE_CODE_IN_TEMPLATE.findall(path.read_text())
        for path in templates
    }
    assert {path: matches for path, matches in found.items() if matches} == {}


def test_inline_code_finder__finds_each_kind():
    # The checker itself: each kind of inline code is found, files and data blocks are not
    html = (
        '<script>alert(1)</script><script src="/s.js"></script><script type="application/json">{}</script>'
        '<style>p{}</style><p style="color: red">x</p><a href="#" onclick="go()">y</a><img src="i.png"/>'
    )
    assert [problem.split(": ", 1)[1] for problem in inline_code(html)] == [
        "inline <script>",
        "<style> element",
        'style="color: red" on <p>',
        "onclick= handler on <a>",
    ]
