"""REST API of webhook endpoints and their deliveries, for organizations' owners and admins and staff.

The OpenAPI description of each view, with its examples, is in api_schema.py.
"""

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
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
from portal.pagination import IdCursorPagination, PagePagination
from portal.throttling import PortalRateThrottle

from . import api_schema, services
from .filters import WebhookDeliveryFilter, WebhookEndpointFilter
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .selectors import webhook_delivery_list_for, webhook_endpoint_list_visible_to
from .serializers import (
    WebhookDeliveryOutputSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointOutputSerializer,
    WebhookEndpointWithSecretSerializer,
)


def _endpoint(request: Request, pk: int) -> WebhookEndpoint:
    return get_object_or_404(webhook_endpoint_list_visible_to(user=authenticated_user(request)), pk=pk)


@api_schema.endpoint_list_schema
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


@api_schema.endpoint_detail_schema
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


@api_schema.endpoint_rotate_secret_schema
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


@api_schema.delivery_list_schema
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


@api_schema.delivery_resend_schema
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
