"""The staff screens of webhooks: endpoints with their secret, the delivery log, re-sending."""

import pytest
from django.contrib import admin as django_admin

from accounts.models import User
from integrations import services
from integrations.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.integrations.receiver import Receiver


@pytest.fixture
def admin_web(client, db):
    superuser = User.objects.create_superuser("chief", "chief@platform.example", "admin-pass-123456")
    client.force_login(superuser)
    return client


@pytest.mark.django_db
def test_admin__add_platform_endpoint__shows_the_secret_once(admin_web):
    response = admin_web.post(
        "/admin/integrations/webhookendpoint/add/",
        {
            "organization": "",
            "url": "https://platform.example.com/hooks",
            "events": ["whitelist_entry.granted", "whitelist_entry.revoked"],
            "description": "Profile service",
            "is_active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.organization is None and endpoint.events == [
        "whitelist_entry.granted",
        "whitelist_entry.revoked",
    ]
    assert endpoint.secret in response.text
    # The change page shows only the start of the secret
    page = admin_web.get(f"/admin/integrations/webhookendpoint/{endpoint.pk}/change/").text
    assert endpoint.secret not in page and endpoint.secret[:10] in page


@pytest.mark.django_db
def test_admin__delivery_log__lists_deliveries_with_state_and_shows_every_attempt(
    admin_web, organization, org_admin, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        receiver.statuses = [500]
        services.webhook_endpoint_create(
            actor=org_admin, organization=organization, url=receiver.url, events=[WebhookEvent.ENTRY_REVOKED]
        )
        with django_capture_on_commit_callbacks(execute=True):
            (delivery,) = services.webhook_event_emit(
                event=WebhookEvent.ENTRY_REVOKED, organization_id=organization.pk, data={}
            )
    listing = admin_web.get("/admin/integrations/webhookdelivery/?state=retrying")
    assert listing.status_code == 200
    assert "whitelist_entry.revoked" in listing.text and "Retrying" in listing.text
    detail = admin_web.get(f"/admin/integrations/webhookdelivery/{delivery.pk}/change/")
    assert detail.status_code == 200
    assert "answered 500" in detail.text  # the attempt's logged answer


@pytest.mark.django_db
def test_admin__resend_action__asks_then_sends_again(
    admin_web, organization, org_admin, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        services.webhook_endpoint_create(
            actor=org_admin, organization=organization, url=receiver.url, events=[WebhookEvent.LINK_LIVE]
        )
        with django_capture_on_commit_callbacks(execute=True):
            (delivery,) = services.webhook_event_emit(
                event=WebhookEvent.LINK_LIVE, organization_id=organization.pk, data={}
            )
        assert len(receiver.requests) == 1
        url = "/admin/integrations/webhookdelivery/"
        form = {"action": "resend", "_selected_action": [delivery.pk]}
        # The first post only asks to confirm
        confirm = admin_web.post(url, form)
        assert confirm.status_code == 200 and "Re-send these deliveries now?" in confirm.text
        assert len(receiver.requests) == 1
        with django_capture_on_commit_callbacks(execute=True):
            done = admin_web.post(url, {**form, "apply": "1"}, follow=True)
        assert done.status_code == 200
        assert len(receiver.requests) == 2
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert list(delivery.attempt_log.values_list("manual", flat=True)) == [False, True]


def test_admin__deliveries_cannot_be_added_by_hand():
    model_admin = django_admin.site._registry[WebhookDelivery]
    assert model_admin.has_add_permission(request=None) is False
