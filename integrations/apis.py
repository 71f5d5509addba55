"""REST API of webhook endpoints and their deliveries, for organizations' owners and admins and staff."""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import authenticated_user
from accounts.selectors import organization_default_for, organization_list_for
from portal.filters import StrictFilterBackend
from portal.openapi import problems
from portal.pagination import IdCursorPagination, PagePagination
from portal.throttling import PortalRateThrottle

from . import services
from .filters import WebhookDeliveryFilter, WebhookEndpointFilter
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .selectors import webhook_delivery_list_for, webhook_endpoint_list_visible_to
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


def _endpoint(request: Request, pk: int) -> WebhookEndpoint:
    return get_object_or_404(webhook_endpoint_list_visible_to(user=authenticated_user(request)), pk=pk)


@extend_schema_view(
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
class WebhookEndpointListApi(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = WebhookEndpointOutputSerializer
    pagination_class = PagePagination
    filter_backends = [StrictFilterBackend, OrderingFilter]
    filterset_class = WebhookEndpointFilter
    ordering_fields = ["id", "created_at", "url"]

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        return webhook_endpoint_list_visible_to(user=authenticated_user(self.request))

    def post(self, request: Request) -> Response:
        user = authenticated_user(request)
        serializer = WebhookEndpointInputSerializer(
            # Any organization of the caller's, so that a plain member is refused (403) by the service
            # rather than told the organization does not exist.
            data=request.data,
            organizations=organization_list_for(user=user),
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organization = data.pop("organization", None)
        if organization is None and not user.is_staff:
            organization = organization_default_for(user=user)
            if organization is None:
                message = _("This field is required when you do not manage exactly one organization.")
                raise ValidationError({"organization": [message]})
        endpoint = services.webhook_endpoint_create(actor=user, organization=organization, **data)
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
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
class WebhookEndpointDetailApi(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = WebhookEndpointOutputSerializer

    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(_endpoint(request, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        endpoint = _endpoint(request, pk)
        serializer = WebhookEndpointInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = {key: value for key, value in serializer.validated_data.items() if key in request.data}
        if "organization" in data:
            raise ValidationError({"organization": [_("An endpoint cannot move to another organization.")]})
        endpoint = services.webhook_endpoint_update(
            actor=authenticated_user(request), endpoint=endpoint, data=data
        )
        return Response(self.get_serializer(endpoint).data)

    def delete(self, request: Request, pk: int) -> Response:
        services.webhook_endpoint_delete(actor=authenticated_user(request), endpoint=_endpoint(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    summary="Rotate the signing secret",
    description="Replaces the endpoint's secret; the answer carries the new one once.",
    tags=["webhooks"],
    request=None,
    responses={200: WebhookEndpointWithSecretSerializer},
    examples=[ENDPOINT_SECRET_EXAMPLE],
)
class WebhookEndpointRotateSecretApi(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = WebhookEndpointWithSecretSerializer

    def post(self, request: Request, pk: int) -> Response:
        endpoint = services.webhook_endpoint_rotate_secret(
            actor=authenticated_user(request), endpoint=_endpoint(request, pk)
        )
        return Response(self.get_serializer(endpoint).data)


def _deliveries(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return webhook_delivery_list_for(endpoint=endpoint).prefetch_related(
        Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))
    )


@extend_schema(
    summary="List an endpoint's deliveries, newest first, with every attempt",
    tags=["webhooks"],
    examples=[DELIVERY_EXAMPLE],
)
class WebhookDeliveryListApi(ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = WebhookDeliveryOutputSerializer
    pagination_class = IdCursorPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = WebhookDeliveryFilter

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return _deliveries(_endpoint(self.request, self.kwargs["pk"]))


class WebhookResendThrottle(PortalRateThrottle):
    """Manual re-sends per endpoint (`webhook_resend` rate), whoever of its managers asks."""

    scope = "webhook_resend"
    policy_name = "webhook-resend"

    def __init__(self, *, endpoint_id: int) -> None:
        super().__init__()
        self.endpoint_id = endpoint_id

    def identity(self, request: Request) -> str:
        return f"endpoint:{self.endpoint_id}"


@extend_schema(
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
class WebhookDeliveryResendApi(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = WebhookDeliveryOutputSerializer

    def post(self, request: Request, pk: int, delivery_id: int) -> Response:
        endpoint = _endpoint(request, pk)
        # Counted after the endpoint is found, so that no one spends another organization's budget.
        throttle = WebhookResendThrottle(endpoint_id=endpoint.pk)
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait() or 1.0)
        delivery = get_object_or_404(_deliveries(endpoint), pk=delivery_id)
        delivery = services.webhook_delivery_resend(actor=authenticated_user(request), delivery=delivery)
        delivery = _deliveries(endpoint).get(pk=delivery.pk)
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)
