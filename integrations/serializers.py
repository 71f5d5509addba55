"""Input and output shapes of the webhook API."""

from typing import Any

from rest_framework import serializers

from accounts.models import Organization
from portal.serializer_fields import StrictBooleanField, StrictCharField

from .models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        min_length=1,
        max_length=len(WebhookEvent),
    )
    description = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    is_active = StrictBooleanField(required=False, default=True)
    organization = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.none(),
        required=False,
        allow_null=True,
        help_text="Your organization (needed when you manage several). Staff leave it out or null "
        "for a platform-wide endpoint that hears every organization's events.",
    )

    def __init__(self, *args: Any, organizations: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if organizations is not None:
            self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]


class WebhookEndpointOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "organization", "url", "events", "description", "is_active", "created_at"]


class WebhookEndpointWithSecretSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(help_text="Signs every delivery; shown on creation and rotation only.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "organization", "url", "events", "description", "is_active", "created_at", "secret"]


class WebhookAttemptOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "requested_at", "duration_ms", "response_status", "error", "manual"]


class WebhookDeliveryOutputSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=DeliveryState.choices)
    attempt_log = WebhookAttemptOutputSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "payload",
            "state",
            "attempts",
            "next_attempt_at",
            "retry_until",
            "delivered_at",
            "created_at",
            "attempt_log",
        ]
