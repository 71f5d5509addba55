"""The webhook API: organizations' owners and admins register endpoints and read their delivery log."""

import pytest
from rest_framework.test import APIClient

from integrations import services
from integrations.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent

URL = "/api/v1/webhooks/"


@pytest.fixture
def admin_client(org_admin) -> APIClient:
    client = APIClient()
    client.force_authenticate(org_admin)
    return client


@pytest.fixture
def endpoint(organization, org_admin) -> WebhookEndpoint:
    return services.webhook_endpoint_create(
        actor=org_admin,
        organization=organization,
        url="https://partner.example.com/hooks",
        events=["whitelist_entry.granted", "profile_link.live"],
    )


def problem(response) -> dict:
    assert response["Content-Type"].startswith("application/problem+json"), response.content
    return response.json()


@pytest.mark.django_db
def test_create__org_admin__is_201_with_the_secret_once(admin_client, organization):
    response = admin_client.post(
        URL,
        {
            "url": "https://partner.example.com/hooks",
            "events": ["whitelist_entry.revoked"],
            "description": "CRM",
            "organization": organization.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["organization"] == organization.pk
    assert body["events"] == ["whitelist_entry.revoked"]
    assert body["secret"].startswith("whsec_")
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]
    # Reading it back never shows the secret
    detail = admin_client.get(f"{URL}{body['id']}/").json()
    assert "secret" not in detail
    assert "secret" not in admin_client.get(URL).json()["results"][0]


@pytest.mark.django_db
def test_create__unknown_event__is_400_naming_events(admin_client):
    response = admin_client.post(
        URL, {"url": "https://a.example.com/h", "events": ["entry.exploded"]}, format="json"
    )
    assert response.status_code == 400
    assert "events.0" in problem(response)["errors"]


@pytest.mark.django_db
def test_create__not_a_url__is_400_naming_url(admin_client):
    response = admin_client.post(
        URL, {"url": "file:///etc/passwd", "events": ["profile_link.live"]}, format="json"
    )
    assert response.status_code == 400
    assert "url" in problem(response)["errors"]


@pytest.mark.django_db
def test_create__same_url_twice__is_409(admin_client, endpoint, organization):
    response = admin_client.post(
        URL,
        {"url": endpoint.url, "events": ["profile_link.live"], "organization": organization.pk},
        format="json",
    )
    assert response.status_code == 409
    assert "url" in problem(response)["errors"]


@pytest.mark.django_db
def test_create__plain_member__is_403(plain_member, organization):
    client = APIClient()
    client.force_authenticate(plain_member)
    response = client.post(
        URL,
        {"url": "https://a.example.com/h", "events": ["profile_link.live"], "organization": organization.pk},
        format="json",
    )
    assert response.status_code == 403
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.django_db
def test_create__staff_without_organization__is_platform_wide(staff_client):
    response = staff_client.post(
        URL, {"url": "https://platform.example.com/h", "events": ["application.decided"]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["organization"] is None


@pytest.mark.django_db
def test_other_merchants_endpoint__is_404_everywhere(endpoint, other_merchant):
    client = APIClient()
    client.force_authenticate(other_merchant)
    for method, path in [
        ("get", f"{URL}{endpoint.pk}/"),
        ("patch", f"{URL}{endpoint.pk}/"),
        ("delete", f"{URL}{endpoint.pk}/"),
        ("post", f"{URL}{endpoint.pk}/rotate-secret/"),
        ("get", f"{URL}{endpoint.pk}/deliveries/"),
    ]:
        response = getattr(client, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
    assert client.get(URL).json()["results"] == []
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.django_db
def test_patch__pause_and_change_events(admin_client, endpoint):
    response = admin_client.patch(
        f"{URL}{endpoint.pk}/", {"is_active": False, "events": ["application.decided"]}, format="json"
    )
    assert response.status_code == 200, response.content
    endpoint.refresh_from_db()
    assert endpoint.is_active is False and endpoint.events == ["application.decided"]


@pytest.mark.django_db
def test_rotate_secret__returns_a_new_secret(admin_client, endpoint):
    response = admin_client.post(f"{URL}{endpoint.pk}/rotate-secret/")
    assert response.status_code == 200
    assert response.json()["secret"] != endpoint.secret
    endpoint.refresh_from_db()
    assert endpoint.secret == response.json()["secret"]


@pytest.mark.django_db
def test_delete__is_204_and_gone(admin_client, endpoint):
    assert admin_client.delete(f"{URL}{endpoint.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.django_db
def test_deliveries__cursor_pages_walk_every_delivery_once_and_filter_by_state(admin_client, endpoint):
    for _ in range(5):
        services.webhook_event_emit(
            event=WebhookEvent.ENTRY_GRANTED, organization_id=endpoint.organization_id, data={}
        )
    WebhookDelivery.objects.filter(pk=WebhookDelivery.objects.order_by("id").first().pk).update(
        state=DeliveryState.FAILED, next_attempt_at=None
    )
    seen: list[int] = []
    url = f"{URL}{endpoint.pk}/deliveries/?page_size=2"
    while url:
        body = admin_client.get(url).json()
        assert "count" not in body
        seen.extend(row["id"] for row in body["results"])
        url = body["next"]
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 5
    failed = admin_client.get(f"{URL}{endpoint.pk}/deliveries/?state=failed").json()["results"]
    assert len(failed) == 1 and failed[0]["state"] == "failed"
    bad = admin_client.get(f"{URL}{endpoint.pk}/deliveries/?state=exploded")
    assert bad.status_code == 400 and "state" in problem(bad)["errors"]


@pytest.mark.django_db
def test_resend__is_202_and_queues_the_delivery(admin_client, endpoint):
    (delivery,) = services.webhook_event_emit(
        event=WebhookEvent.LINK_LIVE,
        organization_id=endpoint.organization_id,
        data={},
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.FAILED, next_attempt_at=None)
    response = admin_client.post(f"{URL}{endpoint.pk}/deliveries/{delivery.pk}/resend/")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "pending"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and delivery.next_attempt_at is not None


@pytest.mark.django_db
def test_webhooks__anonymous__is_401(api_client):
    assert api_client.get(URL).status_code == 401
