"""Secrets the admin shows once (new API keys, webhook signing secrets) never travel in a cookie."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from accounts.scopes import Scope
from integrations.models import ApiKey, WebhookEndpoint


def post_and_follow(client: Client, path: str, data: dict[str, object]) -> tuple[str, list[tuple[str, str]]]:
    """POST, then follow the redirects by hand: the last page and every cookie each response set."""
    response = client.post(path, data)
    cookies = [(name, morsel.value) for name, morsel in response.cookies.items()]
    while response.status_code in (301, 302, 303):
        response = client.get(response["Location"])
        cookies += [(name, morsel.value) for name, morsel in response.cookies.items()]
    assert response.status_code == 200
    return response.content.decode(), cookies


@pytest.fixture
def admin_web(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456"))
    return client


def assert_no_cookie_holds(cookies: list[tuple[str, str]], secret: str) -> None:
    for name, value in cookies:
        assert secret not in value, f"cookie {name} holds the secret"
        # Cookie message storage signs and compresses the secret there: only the session id may be set.
        assert name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME), name


def test_admin_issue_api_key__secret_is_shown_but_set_in_no_cookie(admin_web):
    page, cookies = post_and_follow(
        admin_web,
        "/admin/integrations/apikey/add/",
        {
            "name": "Partner CRM",
            "organization": "",
            "expiry_date_0": "",
            "expiry_date_1": "",
            "scopes": [Scope.WHITELIST_READ],
        },
    )
    key = ApiKey.objects.get()
    secret = page.split("<code>", 1)[1].split("</code>", 1)[0]
    assert secret.startswith(f"{key.prefix}.")
    assert_no_cookie_holds(cookies, secret)


def test_admin_add_webhook_endpoint__secret_is_shown_but_set_in_no_cookie(admin_web):
    page, cookies = post_and_follow(
        admin_web,
        "/admin/integrations/webhookendpoint/add/",
        {
            "organization": "",
            "url": "https://platform.example.com/hooks",
            "events": ["whitelist_entry.granted"],
            "description": "Profile service",
            "is_active": "on",
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in page
    assert_no_cookie_holds(cookies, endpoint.secret)
