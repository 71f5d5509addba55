"""Hostile input answers 4xx, never 500: NUL bytes in paths and query strings, deeply nested JSON."""

import pytest

from portal.parsers import MAX_JSON_DEPTH, json_depth
from tests import factories
from tests.api_contract import PROBLEM, assert_problem

DEEP_JSON = "[" * 1000 + "]" * 1000  # 2 KB


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/profiles/weibo/%00/miniprograms/",
        "/api/v1/whitelist/weibo/%00/",
        "/api/v1/whitelist/weibo/a%00b/",
    ],
)
def test_nul_in_platform_uid_path__is_404_problem(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith(PROBLEM)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "authenticated"),
    [("/api/v1/auth/register/", False), ("/api/v1/auth/token/", False), ("/api/v1/accounts/", True)],
)
def test_json_nested_1000_deep__is_400_problem(api_client, merchant, path, authenticated):
    if authenticated:
        api_client.force_authenticate(merchant)
    response = api_client.post(path, DEEP_JSON, content_type="application/json")
    body = assert_problem(response, 400)
    assert f"deeper than {MAX_JSON_DEPTH}" in body["detail"]


@pytest.mark.django_db
def test_json_nested_deep_inside_an_object_field__is_400(merchant_client, account):
    body = '{"screen_name": ' + "{" + '"a":{' * 200 + "}" * 201 + "}"
    response = merchant_client.patch(f"/api/v1/accounts/{account.pk}/", body, content_type="application/json")
    assert f"deeper than {MAX_JSON_DEPTH}" in assert_problem(response, 400)["detail"]


@pytest.mark.django_db
def test_json_within_the_depth_limit__is_parsed(merchant_client, account):
    response = merchant_client.patch(
        f"/api/v1/accounts/{account.pk}/",
        '{"screen_name": "[[[{{{ New name"}',
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["screen_name"] == "[[[{{{ New name"


def test_json_depth__ignores_brackets_inside_strings():
    assert json_depth('{"a": "[[[[[[", "b": ["\\"]]]]"]}') == 2
    assert json_depth("[]") == 1
    assert json_depth('"text"') == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/whitelist/whitelistapplication/?recommendation=%00",
        "/admin/accounts/officialaccount/?verification_status__exact=%00",
        "/admin/accounts/officialaccount/?q=a%00b",
        "/admin/whitelist/whitelistentry/?state__exact=%00",
    ],
)
def test_nul_in_admin_list_filter__is_400(client, url):
    client.force_login(factories.StaffUserFactory(username="nul_reviewer", is_superuser=True))
    response = client.get(url)
    assert response.status_code == 400
    assert b"NUL" in response.content


@pytest.mark.django_db
def test_nul_in_api_query__is_400_problem_naming_the_parameter(staff_client):
    response = staff_client.get("/api/v1/applications/?state=%00")
    assert_problem(response, 400, "state")


@pytest.mark.django_db
def test_nul_in_merchant_page_query__is_400(client, merchant):
    client.force_login(merchant)
    response = client.get("/accounts/?q=%00")
    assert response.status_code == 400


# What the OpenAPI description calls invalid is refused, not read as "no filter" or coerced.


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/accounts/?kind=", "kind"),
        ("/api/v1/accounts/?page_size=null", "page_size"),
        ("/api/v1/applications/?page_size=abc", "page_size"),
        ("/api/v1/applications/?submitted_before=", "submitted_before"),
        ("/api/v1/applications/?state=draft&state=submitted", "state"),
        ("/api/v1/webhooks/?is_active=null", "is_active"),
        ("/api/v1/webhooks/?is_active=1", "is_active"),
    ],
)
def test_list_parameter_the_schema_refuses__is_400_naming_it(staff_client, url, parameter):
    assert_problem(staff_client.get(url), 400, parameter)


@pytest.mark.django_db
def test_list_parameters_the_schema_allows__still_filter(staff_client):
    assert staff_client.get("/api/v1/webhooks/?is_active=true&page_size=5").status_code == 200
    assert staff_client.get("/api/v1/accounts/?kind=media").status_code == 200


@pytest.mark.django_db
def test_register__number_for_a_string__is_400_naming_the_field(api_client):
    response = api_client.post(
        "/api/v1/auth/register/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password": "a-long-passphrase-9",
            "organization_name": 0,
            "organization_kind": "media",
        },
        format="json",
    )
    assert_problem(response, 400, "organization_name")


@pytest.mark.django_db
def test_webhook__number_for_a_boolean__is_400_naming_the_field(staff_client):
    response = staff_client.post(
        "/api/v1/webhooks/",
        {"url": "https://partner.example.com/hooks", "events": ["profile_link.live"], "is_active": 0},
        format="json",
    )
    assert_problem(response, 400, "is_active")
