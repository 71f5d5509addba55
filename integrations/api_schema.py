"""The OpenAPI description of the webhook API: one decorator a view, with its examples."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view

from portal.openapi import problems

from .serializers import (
    WebhookDeliveryOutputSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointOutputSerializer,
    WebhookEndpointWithSecretSerializer,
)

ENDPOINT_EXAMPLE = OpenApiExample(
    "Endpoint",
    value={
        "url": "https://partner.example.com/portal-webhooks",
        "events": ["whitelist_entry.granted", "whitelist_entry.revoked", "profile_link.live"],
        "description": "Partner CRM",
    },
    request_only=True,
)


ENDPOINT_OUTPUT_EXAMPLE = OpenApiExample(
    "Endpoint",
    value={
        "id": 4,
        "organization": 12,
        "url": "https://partner.example.com/portal-webhooks",
        "events": ["whitelist_entry.granted", "whitelist_entry.revoked", "profile_link.live"],
        "description": "Partner CRM",
        "is_active": True,
        "created_at": "2026-11-23T08:00:00Z",
    },
    response_only=True,
)
ENDPOINT_SECRET_EXAMPLE = OpenApiExample(
    "Endpoint with its secret",
    value={
        "id": 4,
        "organization": 12,
        "url": "https://partner.example.com/portal-webhooks",
        "events": ["whitelist_entry.granted"],
        "description": "Partner CRM",
        "is_active": True,
        "created_at": "2026-11-23T08:00:00Z",
        "secret": "whsec_3q2+7wL0x1tJfQp9kq3mVY0aN5s8hK2dR1uE6cB4zZo",
    },
    response_only=True,
)
DELIVERY_EXAMPLE = OpenApiExample(
    "Delivery",
    value={
        "id": 311,
        "event": "whitelist_entry.granted",
        "event_id": "0d6c5a9e-4f7e-4a43-9f55-2b8f1b7a6c10",
        "payload": {
            "id": "0d6c5a9e-4f7e-4a43-9f55-2b8f1b7a6c10",
            "type": "whitelist_entry.granted",
            "created_at": "2026-11-23T08:00:00.000Z",
            "organization": 12,
            "data": {"whitelist_entry": {"id": 88, "state": "active"}, "account": {"id": 41}},
        },
        "state": "retrying",
        "attempts": 1,
        "next_attempt_at": "2026-11-23T08:00:30Z",
        "retry_until": "2026-11-24T08:00:00Z",
        "delivered_at": None,
        "created_at": "2026-11-23T08:00:00Z",
        "attempt_log": [
            {
                "number": 1,
                "requested_at": "2026-11-23T08:00:00Z",
                "duration_ms": 212,
                "response_status": 503,
                "error": "",
                "manual": False,
            }
        ],
    },
    response_only=True,
)


endpoint_list_schema = extend_schema_view(
    get=extend_schema(
        summary="List webhook endpoints",
        tags=["webhooks"],
        operation_id="webhooks_list",
        examples=[ENDPOINT_OUTPUT_EXAMPLE],
    ),
    post=extend_schema(
        summary="Register a webhook endpoint",
        description="Registers a URL for the chosen events of your organization (staff: of every "
        "organization when `organization` is null). The answer carries the signing `secret` once.",
        tags=["webhooks"],
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointWithSecretSerializer, **problems(409)},
        examples=[ENDPOINT_EXAMPLE, ENDPOINT_SECRET_EXAMPLE],
    ),
)


endpoint_detail_schema = extend_schema_view(
    get=extend_schema(
        summary="Read a webhook endpoint", tags=["webhooks"], examples=[ENDPOINT_OUTPUT_EXAMPLE]
    ),
    patch=extend_schema(
        summary="Change a webhook endpoint",
        tags=["webhooks"],
        request=WebhookEndpointInputSerializer(partial=True),
        responses={200: WebhookEndpointOutputSerializer, **problems(409)},
        examples=[
            OpenApiExample("Pause", value={"is_active": False}, request_only=True),
            ENDPOINT_OUTPUT_EXAMPLE,
        ],
    ),
    delete=extend_schema(
        summary="Delete a webhook endpoint and its delivery log",
        tags=["webhooks"],
        responses={204: OpenApiResponse(description="Deleted, with its delivery log."), **problems(404)},
        examples=[
            OpenApiExample(
                "Not found",
                value={"type": "about:blank", "title": "Not Found", "status": 404, "detail": "Not found."},
                response_only=True,
                status_codes=["404"],
                media_type="application/problem+json",
            )
        ],
    ),
)


endpoint_rotate_secret_schema = extend_schema(
    summary="Rotate the signing secret",
    description="Replaces the endpoint's secret; the answer carries the new one once.",
    tags=["webhooks"],
    request=None,
    responses={200: WebhookEndpointWithSecretSerializer},
    examples=[ENDPOINT_SECRET_EXAMPLE],
)


delivery_list_schema = extend_schema(
    summary="List an endpoint's deliveries, newest first, with every attempt",
    tags=["webhooks"],
    examples=[DELIVERY_EXAMPLE],
)


delivery_resend_schema = extend_schema(
    summary="Send a delivery again now",
    description="Queues the delivery for another attempt with a fresh day of retries; receivers "
    "de-duplicate on the event id (`X-Portal-Delivery`). Re-sends of one endpoint are limited "
    "(`WEBHOOK_RESEND_RATE`, 30 an hour by default); over the limit the answer is 429 with `Retry-After`.",
    tags=["webhooks"],
    request=None,
    responses={202: WebhookDeliveryOutputSerializer, **problems(429)},
    examples=[
        OpenApiExample("Queued again", value=DELIVERY_EXAMPLE.value, response_only=True, status_codes=["202"])
    ],
)
