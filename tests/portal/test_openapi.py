"""The OpenAPI description: valid, complete, served offline, and true to the API (schemathesis)."""

import json
import os
from typing import Any

import pytest
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import CHECKS
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests import factories
from tests.api_contract import api_schema

# Random examples per operation, on top of schemathesis' coverage phase (boundary and invalid values of
# every parameter and body field, most of the run's time); SCHEMATHESIS_EXAMPLES raises it for a
# deeper run by hand.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
# Every check schemathesis documents, but one: positive_data_acceptance expects any schema-valid
# request to succeed, and a valid-looking id of a row that does not exist ({"account": 7}) is rightly a
# 400 naming the field. The stateful checks (use_after_free, ensure_resource_availability) act on
# sequences of calls and pass through single ones.
SCHEMA_CHECKS = [check for check in CHECKS.get_all() if check is not positive_data_acceptance]


def generated_schema(tmp_path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    path = tmp_path / "schema.json"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(path)
    )
    return json.loads(path.read_text())


def test_schema__generates_without_warnings_and_validates_as_openapi_3(tmp_path):
    # --fail-on-warn: a view the generator cannot describe fails here, not silently in the docs
    schema = generated_schema(tmp_path)
    assert schema["openapi"].startswith("3.")
    assert {"ApiKeyAuth", "tokenAuth"} <= set(schema["components"]["securitySchemes"])


def test_schema__every_operation_has_summary_responses_errors_and_examples(tmp_path):
    schema = generated_schema(tmp_path)
    missing: list[str] = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            label = f"{method.upper()} {path}"
            if not operation.get("summary"):
                missing.append(f"{label}: summary")
            responses = operation["responses"]
            if not any(code.startswith("2") for code in responses):
                missing.append(f"{label}: a success response")
            for code in ("400", "401", "403", "404", "429"):
                content = responses.get(code, {}).get("content", {})
                if "application/problem+json" not in content:
                    missing.append(f"{label}: problem details for {code}")
            has_example = any(
                "examples" in media or "example" in media
                for part in [operation.get("requestBody", {}), *responses.values()]
                for media in part.get("content", {}).values()
            )
            if not has_example:
                missing.append(f"{label}: an example")
    assert missing == []


def test_schema__key_scope_documented_per_operation(tmp_path):
    schema = generated_schema(tmp_path)
    share = schema["paths"]["/api/v1/miniprograms/{id}/shares/"]["post"]
    assert {"ApiKeyAuth": []} in share["security"]
    assert "`shares:write`" in share["description"]
    applications = schema["paths"]["/api/v1/applications/"]["get"]
    assert {"ApiKeyAuth": []} not in applications["security"]
    assert "API keys cannot call this endpoint" in applications["description"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs__served_from_local_static_files(client, path):
    response = client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    if "/api/docs/?script=" in page:
        # Swagger UI's start-up script comes from a second request, for the Content-Security-Policy.
        page += client.get(path, {"script": ""}).content.decode()
    assert "/api/schema/" in page
    assert "drf_spectacular_sidecar" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page


@pytest.mark.django_db
def test_schema_endpoint__serves_openapi_json(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Mini program portal API"


# Contract: schemathesis calls every operation in-process and checks each answer against the schema.


def _contract_schema() -> Any:
    # Built at collection from the generator itself (no request); calls go in-process to the WSGI app.
    schema = api_schema()
    schema.app = get_wsgi_application()
    return schema


contract = _contract_schema()


@pytest.fixture
def in_process_requests(db):  # type: ignore[no-untyped-def]
    """Like Django's test client: a request must not close the connection holding the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(db) -> str:  # type: ignore[no-untyped-def]
    staff = factories.StaffUserFactory(username="contract_staff", is_superuser=True)
    return Token.objects.create(user=staff).key


@contract.parametrize()
@settings(
    max_examples=EXAMPLES,
    # The same examples on every run: CI fails for a change to the code, never for a new draw.
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api__every_operation__answers_as_documented(case, staff_token, in_process_requests):
    case.call_and_validate(headers={"Authorization": f"Token {staff_token}"}, checks=SCHEMA_CHECKS)
