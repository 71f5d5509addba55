"""The staff screens of API keys: issue with the secret shown once, revoke after confirming, never delete."""

import re

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from accounts.models import User
from accounts.scopes import Scope
from integrations import services
from integrations.models import ApiKey

from .conftest import IssueKey, KeyClient

ADD_URL = "/admin/integrations/apikey/add/"
CHANGELIST_URL = "/admin/integrations/apikey/"


@pytest.fixture
def admin_web(client, db):
    superuser = User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456")
    client.force_login(superuser)
    client.superuser = superuser
    return client


def add_form(**fields: object) -> dict[str, object]:
    return {"name": "Partner CRM", "organization": "", "expiry_date_0": "", "expiry_date_1": "", **fields}


def change_url(key: ApiKey) -> str:
    return reverse("admin:integrations_apikey_change", args=[quote(key.pk)])


def shown_secret(html: str) -> str:
    match = re.search(r"<code>([^<]+)</code>", html)
    assert match, "the page shows no key"
    return match.group(1)


@pytest.mark.django_db
def test_admin_add__staff_issue_a_key__see_the_secret_once_and_it_works(admin_web, key_client: KeyClient):
    # Given staff on the add form
    assert admin_web.get(ADD_URL).status_code == 200
    # When they issue a whitelist:read key
    response = admin_web.post(ADD_URL, add_form(scopes=[Scope.WHITELIST_READ]), follow=True)
    # Then the page shows the secret once, and it is the new key's
    assert response.status_code == 200
    secret = shown_secret(response.text)
    assert "will not be shown again" in response.text
    key = ApiKey.objects.get()
    assert secret.startswith(f"{key.prefix}.")
    assert (key.name, key.scopes, key.organization, key.created_by) == (
        "Partner CRM",
        ["whitelist:read"],
        None,
        admin_web.superuser,
    )
    # And it works with the API
    assert key_client(secret).get("/api/v1/whitelist-entries/").status_code == 200
    # And no page shows it again
    hidden = secret.partition(".")[2]
    for url in (CHANGELIST_URL, change_url(key)):
        page = admin_web.get(url)
        assert page.status_code == 200
        assert key.prefix in page.text
        assert hidden not in page.text


@pytest.mark.django_db
def test_admin_add__organization_and_expiry__are_kept(admin_web, organization):
    response = admin_web.post(
        ADD_URL,
        add_form(
            scopes=[Scope.SHARES_WRITE, Scope.WHITELIST_READ],
            organization=str(organization.pk),
            expiry_date_0="2099-01-31",
            expiry_date_1="12:00:00",
        ),
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get()
    assert key.organization == organization
    assert sorted(key.scopes) == ["shares:write", "whitelist:read"]
    assert key.expiry_date is not None and key.expiry_date.year == 2099


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({}, "This field is required.", id="no scope"),
        pytest.param({"scopes": ["admin"]}, "Select a valid choice.", id="unknown scope"),
    ],
)
def test_admin_add__bad_scopes__form_error_and_no_key(admin_web, fields, error):
    response = admin_web.post(ADD_URL, add_form(**fields))
    assert response.status_code == 200
    assert "scopes" in response.context["adminform"].form.errors
    assert error in response.text
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_admin_revoke_action__asks_to_confirm_then_revokes(
    admin_web, issue_key: IssueKey, key_client: KeyClient
):
    # Given two working keys
    key, secret = issue_key(Scope.WHITELIST_READ, name="Old partner")
    kept, kept_secret = issue_key(Scope.WHITELIST_READ, name="Current partner")
    selection = {"action": "revoke", "_selected_action": [key.pk]}
    # When staff choose the revoke action for one
    confirm = admin_web.post(CHANGELIST_URL, selection)
    # Then they are asked to confirm, and nothing is revoked yet
    assert confirm.status_code == 200
    assert "Revoke these keys?" in confirm.text
    assert "Old partner" in confirm.text and "Current partner" not in confirm.text
    assert not ApiKey.objects.get(pk=key.pk).revoked
    # When they confirm
    done = admin_web.post(CHANGELIST_URL, {**selection, "apply": "Revoke"}, follow=True)
    # Then that key is revoked and refused, and the other still works
    assert done.status_code == 200
    assert "1 done." in done.text
    key.refresh_from_db()
    assert key.revoked and key.revoked_at is not None
    assert key_client(secret).get("/api/v1/whitelist-entries/").status_code == 401
    assert key_client(kept_secret).get("/api/v1/whitelist-entries/").status_code == 200
    assert not ApiKey.objects.get(pk=kept.pk).revoked


@pytest.mark.django_db
def test_admin_change__post__cannot_unrevoke_or_edit(admin_web, issue_key: IssueKey, staff):
    key, _secret = issue_key(Scope.WHITELIST_READ, name="Old partner")
    services.api_key_revoke(actor=staff, key=key)
    response = admin_web.post(
        change_url(key), {"name": "Renamed", "revoked": "", "scopes": ["accounts:write"]}, follow=True
    )
    assert response.status_code == 200
    key.refresh_from_db()
    assert (key.name, key.revoked, key.scopes) == ("Old partner", True, ["whitelist:read"])


@pytest.mark.django_db
def test_admin__delete__is_not_offered(admin_web, issue_key: IssueKey):
    key, _secret = issue_key(Scope.WHITELIST_READ)
    changelist = admin_web.get(CHANGELIST_URL)
    actions = [name for name, _label in changelist.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert "revoke" in actions
    change = admin_web.get(change_url(key))
    assert "deletelink" not in change.text
    delete_url = reverse("admin:integrations_apikey_delete", args=[quote(key.pk)])
    assert admin_web.get(delete_url).status_code == 403
    assert admin_web.post(delete_url, {"post": "yes"}).status_code == 403
    assert ApiKey.objects.filter(pk=key.pk).exists()


@pytest.mark.django_db
def test_admin_add__expiry_in_the_past__shows_the_error_not_500(admin_web):
    admin_web.raise_request_exception = False
    response = admin_web.post(
        ADD_URL,
        add_form(scopes=[Scope.WHITELIST_READ], expiry_date_0="2001-01-01", expiry_date_1="00:00:00"),
        follow=True,
    )
    assert response.status_code == 200
    assert "must be in the future" in response.text
    assert not ApiKey.objects.exists()
