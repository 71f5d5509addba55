"""Helpers for API tests: the OpenAPI description as schemathesis sees it, problem details, lists."""

import functools
import json
from typing import Any

import requests
import schemathesis
from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.generators import SchemaGenerator
from schemathesis.specs.openapi.schemas import OpenApiSchema

PROBLEM = "application/problem+json"


@functools.cache
def api_schema() -> OpenApiSchema:
    """The generated OpenAPI description, built from the generator itself (no request)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(json.dumps(document, cls=DjangoJSONEncoder)))


def assert_documented(response: Any, path: str, method: str = "get") -> None:
    """The response is one the OpenAPI description allows: its status, media type, headers and body.

    `path` is the path template as documented, e.g. "/api/v1/accounts/{id}/".
    """
    operation = api_schema()[path][method]
    request = requests.Request(method.upper(), f"http://testserver{response.request['PATH_INFO']}").prepare()
    operation.validate_response(
        schemathesis.Response(
            status_code=response.status_code,
            headers={name: [value] for name, value in response.headers.items()},
            content=b"".join(response.streaming_content) if response.streaming else response.content,
            request=request,
            elapsed=0.0,
            verify=False,
        )
    )


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """A problem-details answer with this status, naming each of these fields in `errors`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for field in fields:
        assert body["errors"][field], body
    return body


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def walk(client: Any, url: str) -> list[int]:
    """Every id of a cursor-paginated list, following `next` to the end."""
    seen: list[int] = []
    while url:
        response = client.get(url)
        seen += ids(response)
        body = response.json()
        assert "count" not in body
        url = body["next"]
    return seen
