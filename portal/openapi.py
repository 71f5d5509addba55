"""The OpenAPI description's shared parts: the problem-details schema, common errors, auth schemes."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .api_keys import api_key_scopes_of
from .errors import PROBLEM_CONTENT_TYPE

_STATUS_MEANINGS = {
    400: "Invalid input: `errors` names each field (dotted for nested ones) with its messages.",
    401: "No credentials, or invalid ones (an unknown, revoked or expired API key; a bad token).",
    403: "Signed in, but not allowed; for an API key, a scope it lacks or an endpoint keys cannot use.",
    404: "Not found, or not visible to the caller (another organization's objects are 404, never 403).",
    409: "Conflicts with the current state (a transition that is no longer possible, a duplicate).",
    413: "The request body is too large.",
    415: "Unsupported media type: send JSON (multipart for uploads).",
    422: "Well-formed but refused, e.g. an Idempotency-Key reused for a different request.",
    429: "Too many requests: see `Retry-After` and the `RateLimit` fields.",
}
# Every operation documents these; an operation adds the others it can answer with.
DEFAULT_ERROR_STATUSES = (400, 401, 403, 404, 429)


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, the one error format of the API."""

    type = serializers.CharField(help_text="`urn:portal:problem:<code>` or `about:blank`.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="A message safe to show to a person.")
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field errors by field name; `non_field_errors` for the request as a whole.",
    )


def problem(status: int, description: str = "") -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description or _STATUS_MEANINGS.get(status, ""))


def problems(*statuses: int) -> dict[tuple[int, str], OpenApiResponse]:
    """Problem-details responses to add to an operation's `responses`."""
    return {(status, PROBLEM_CONTENT_TYPE): problem(status) for status in statuses}


RATE_LIMIT_HEADERS = [
    OpenApiParameter(
        "RateLimit-Policy",
        str,
        OpenApiParameter.HEADER,
        response=True,
        description='The quota policies that apply, e.g. `"user";q=6000;w=60`.',
    ),
    OpenApiParameter(
        "RateLimit",
        str,
        OpenApiParameter.HEADER,
        response=True,
        description='What is left of each policy and the seconds until it resets, e.g. `"user";r=5999;t=60`.',
    ),
]
RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before retrying.",
)


class PortalAutoSchema(AutoSchema):
    """Adds the common error responses, the rate-limit headers and each endpoint's key scope."""

    def get_override_parameters(self) -> list[Any]:
        return [*super().get_override_parameters(), *RATE_LIMIT_HEADERS, RETRY_AFTER_HEADER]

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status in DEFAULT_ERROR_STATUSES:
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    problem(status), str(status), [PROBLEM_CONTENT_TYPE], direction
                )
        return responses

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's signature
        description = super().get_description() or ""
        scope = api_key_scopes_of(self.view, self.method)
        note = (
            f"API keys with the scope `{scope}` may call this endpoint."
            if scope
            else "API keys cannot call this endpoint."
        )
        return f"{description}\n\n{note}".strip()


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An API key issued by staff, sent as `Authorization: Api-Key <key>`. "
            "Each key holds scopes; an operation's description names the scope it needs.",
        }

    def get_security_requirement(  # type: ignore[override]  # None: keys cannot call this operation
        self, auto_schema: AutoSchema
    ) -> dict[str, list[str]] | None:
        if api_key_scopes_of(auto_schema.view, auto_schema.method) is None:
            return None
        return {self.name: []}
