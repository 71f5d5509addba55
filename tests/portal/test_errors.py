"""Every API error, from DRF or from Django itself, is RFC 9457 problem details."""

import pytest
from django.test import Client

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    return body


@pytest.mark.django_db
def test_unknown_api_path__is_404_problem(client):
    assert_problem(client.get("/api/v1/no-such-thing/"), 404)


@pytest.mark.django_db
def test_unknown_web_path__stays_html(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith(PROBLEM)


@pytest.mark.django_db
@pytest.mark.urls("tests.portal.urls_with_errors")
def test_crash_in_plain_django_view_on_api_path__is_500_problem():
    client = Client(raise_request_exception=False)
    body = assert_problem(client.get("/api/v1/test-crash/"), 500)
    assert "boom" not in body["detail"]


@pytest.mark.django_db
@pytest.mark.urls("tests.portal.urls_with_errors")
def test_permission_denied_in_plain_django_view_on_api_path__is_403_problem(client):
    assert_problem(client.get("/api/v1/test-forbidden/"), 403)


@pytest.mark.django_db
def test_csrf_failure_on_session_api__is_403_problem(merchant):
    client = Client(enforce_csrf_checks=True)
    client.force_login(merchant)
    response = client.post("/api/v1/accounts/", {}, content_type="application/json")
    body = assert_problem(response, 403)
    assert "CSRF" in body["detail"]


@pytest.mark.django_db
def test_validation_error__names_fields_with_dotted_paths_and_first_message_in_detail(merchant_client):
    response = merchant_client.post("/api/v1/accounts/", {"followers_count": -1}, format="json")
    body = assert_problem(response, 400)
    assert body["type"] == "urn:portal:problem:validation-error"
    assert {"platform_uid", "screen_name", "kind", "vertical", "followers_count"} <= body["errors"].keys()
    assert body["detail"].split(":")[0] in body["errors"]


def test_flatten_errors__nested_detail__gives_dotted_field_names():
    from portal.errors import flatten_errors

    detail = {
        "products": [{}, {"url": ["Enter a valid URL."]}],
        "services": {"0": ["Not a valid choice."]},
        "non_field_errors": ["Bad."],
    }
    assert flatten_errors(detail) == {
        "products.1.url": ["Enter a valid URL."],
        "services.0": ["Not a valid choice."],
        "non_field_errors": ["Bad."],
    }


@pytest.mark.django_db
def test_body_over_the_upload_limit__is_413_problem_and_writes_nothing(merchant_client):
    from accounts.models import OfficialAccount

    body = '{"screen_name": "' + "x" * 3_000_000 + '"}'
    response = merchant_client.post("/api/v1/accounts/", body, content_type="application/json")
    problem = assert_problem(response, 413)
    assert "larger than the limit" in problem["detail"]
    assert not OfficialAccount.objects.exists()


@pytest.mark.django_db
def test_unsupported_media_type__is_415_problem(merchant_client):
    response = merchant_client.post(
        "/api/v1/accounts/", "a=1", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415)
