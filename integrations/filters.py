"""Query filters of the webhook lists."""

import django_filters

from portal.filters import InstantFilter

from .models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookEndpointFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter()
    search = django_filters.CharFilter(field_name="url", lookup_expr="icontains", label="URL contains")

    class Meta:
        model = WebhookEndpoint
        fields = ["is_active", "organization"]


class WebhookDeliveryFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=DeliveryState.choices)
    event = django_filters.ChoiceFilter(choices=WebhookEvent.choices)
    created_after = InstantFilter(field_name="created_at", lookup_expr="gte")
    created_before = InstantFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = WebhookDelivery
        fields = ["state", "event"]
