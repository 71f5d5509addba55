"""Reads of the partner API: what a key may see, webhook endpoints and deliveries visible to a user."""

from typing import TypeVar

from django.db.models import Model, QuerySet

from accounts.models import MANAGING_ROLES, Membership, User

from .models import ApiKey, WebhookDelivery, WebhookEndpoint

M = TypeVar("M", bound=Model)


def scoped_to_key(
    queryset: QuerySet[M], *, key: ApiKey, organization_path: str = "organization"
) -> QuerySet[M]:
    """The rows a key may act on: its organization's, or all of them for a platform-wide key."""
    if key.organization_id is None:
        return queryset
    return queryset.filter(**{f"{organization_path}_id": key.organization_id})


def webhook_endpoint_list_visible_to(*, user: User) -> QuerySet[WebhookEndpoint]:
    """Endpoints of the organizations the user owns or administers; staff see all, platform-wide ones
    included. A plain member does not see them: their URLs and deliveries are the managers' business."""
    endpoints = WebhookEndpoint.objects.select_related("organization")
    if not user.is_staff:
        endpoints = endpoints.filter(
            organization__in=Membership.objects.filter(user=user, role__in=MANAGING_ROLES).values(
                "organization"
            )
        )
    return endpoints.order_by("-id")


def webhook_delivery_list_for(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")
