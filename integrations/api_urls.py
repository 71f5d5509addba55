"""API routes of webhooks, under /api/v1/."""

from django.urls import path

from . import apis

urlpatterns = [
    path("webhooks/", apis.WebhookEndpointListApi.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", apis.WebhookEndpointDetailApi.as_view(), name="api-webhook-detail"),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        apis.WebhookEndpointRotateSecretApi.as_view(),
        name="api-webhook-rotate-secret",
    ),
    path(
        "webhooks/<int:pk>/deliveries/", apis.WebhookDeliveryListApi.as_view(), name="api-webhook-deliveries"
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_id>/resend/",
        apis.WebhookDeliveryResendApi.as_view(),
        name="api-webhook-delivery-resend",
    ),
]
