"""Webhooks: signed deliveries to a real local HTTP server, retries with backoff, the log, the events."""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from integrations import services
from integrations.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from miniprograms import services as miniprogram_services
from tests.integrations.receiver import Receiver
from tests.miniprograms.conftest import whitelisted
from whitelist import services as whitelist_services
from whitelist.models import WhitelistEntry


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def endpoint(staff, organization, org_admin, receiver) -> WebhookEndpoint:
    return services.webhook_endpoint_create(
        actor=org_admin, organization=organization, url=receiver.url, events=WebhookEvent.values
    )


@pytest.fixture
def listed_account(merchant, organization, staff, policy):
    return whitelisted(owner=merchant, organization=organization, reviewer=staff, platform_uid="7300000001")


def emit_committed(django_capture_on_commit_callbacks, **kwargs: Any) -> list[WebhookDelivery]:
    with django_capture_on_commit_callbacks(execute=True):
        return services.webhook_event_emit(**kwargs)


def recipe_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The README's recipe, written out independently of the service."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


# Signatures


def test_signature__documented_recipe__verifies_and_rejects_tampering():
    body = b'{"id":"1","type":"whitelist_entry.granted"}'
    signature = services.webhook_signature(secret="whsec_x", timestamp="1700000000", body=body)
    assert signature == recipe_signature("whsec_x", "1700000000", body)
    assert services.webhook_signature_verify(
        secret="whsec_x", timestamp="1700000000", body=body, signature=signature, now=1700000100
    )
    assert not services.webhook_signature_verify(
        secret="whsec_x", timestamp="1700000000", body=body + b" ", signature=signature, now=1700000100
    )
    assert not services.webhook_signature_verify(
        secret="whsec_y", timestamp="1700000000", body=body, signature=signature, now=1700000100
    )
    # A replay long after the timestamp is refused even with a good signature.
    assert not services.webhook_signature_verify(
        secret="whsec_x", timestamp="1700000000", body=body, signature=signature, now=1700009999
    )


# Delivery


@pytest.mark.django_db
def test_delivery__receiver_answers_200__is_signed_logged_and_delivered(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    # When an event is emitted and its transaction commits
    (delivery,) = emit_committed(
        django_capture_on_commit_callbacks,
        event=WebhookEvent.ENTRY_GRANTED,
        organization_id=endpoint.organization_id,
        data={"whitelist_entry": {"id": 7}},
    )
    # Then the receiver got one signed POST whose signature verifies with the recipe
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Portal-Event"] == "whitelist_entry.granted"
    assert headers["X-Portal-Delivery"] == str(delivery.event_id)
    assert headers["X-Portal-Signature"] == recipe_signature(
        endpoint.secret, headers["X-Portal-Timestamp"], request["body"]
    )
    body = json.loads(request["body"])
    assert body["type"] == "whitelist_entry.granted"
    assert body["id"] == str(delivery.event_id)
    assert body["organization"] == endpoint.organization_id
    assert body["data"] == {"whitelist_entry": {"id": 7}}
    # And the delivery and its attempt are logged
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.delivered_at is not None
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.response_status, attempt.manual) == (1, 200, False)
    assert attempt.response_body == "answered 200"


@pytest.mark.django_db
def test_delivery__rolled_back_change__sends_nothing(endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.webhook_event_emit(
            event=WebhookEvent.ENTRY_REVOKED, organization_id=endpoint.organization_id, data={}
        )
        raise RuntimeError("the change fails after the event")
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


@pytest.mark.django_db
def test_delivery__receiver_fails__retries_with_growing_backoff_then_delivers(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    # Given a receiver that fails twice
    receiver.statuses = [500, 503]
    (delivery,) = emit_committed(
        django_capture_on_commit_callbacks,
        event=WebhookEvent.ENTRY_SUSPENDED,
        organization_id=endpoint.organization_id,
        data={},
    )
    delivery.refresh_from_db()
    # Then the first failure schedules a retry 30 s later
    assert delivery.state == DeliveryState.RETRYING
    first_wait = (
        delivery.next_attempt_at - WebhookAttempt.objects.get(delivery=delivery).requested_at
    ).total_seconds()
    assert 30 <= first_wait < 35
    # When the retry is due and the minute's sweep runs
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.webhook_deliveries_send_due() == 1
    delivery.refresh_from_db()
    second = WebhookAttempt.objects.get(delivery=delivery, number=2)
    assert second.response_status == 503
    # Then the wait has grown four-fold
    assert 120 <= (delivery.next_attempt_at - second.requested_at).total_seconds() < 125
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    services.webhook_deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert list(delivery.attempt_log.values_list("number", "response_status")) == [
        (1, 500),
        (2, 503),
        (3, 200),
    ]
    assert len(receiver.requests) == 3


def test_retry_delay__is_exponential_and_a_day_of_retries_fits():
    delays = [services.retry_delay(n).total_seconds() for n in range(1, 8)]
    assert delays == [30, 120, 480, 1920, 7680, 30720, 122880]
    assert sum(delays[:6]) < timedelta(days=1).total_seconds() < sum(delays)


@pytest.mark.django_db
def test_delivery__failing_past_its_day__is_given_up(endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [500, 500]
    (delivery,) = emit_committed(
        django_capture_on_commit_callbacks,
        event=WebhookEvent.ENTRY_EXPIRED,
        organization_id=endpoint.organization_id,
        data={},
    )
    # When the day of retries is over and the last attempt fails
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1),
        retry_until=timezone.now() - timedelta(seconds=1),
    )
    services.webhook_deliveries_send_due()
    delivery.refresh_from_db()
    # Then it is failed, with no next attempt, and the sweep leaves it alone
    assert delivery.state == DeliveryState.FAILED and delivery.next_attempt_at is None
    assert services.webhook_deliveries_send_due() == 0
    assert delivery.attempt_log.count() == 2


@pytest.mark.django_db
def test_delivery__retry_never_scheduled_past_its_day(endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [500]
    (delivery,) = emit_committed(
        django_capture_on_commit_callbacks,
        event=WebhookEvent.ENTRY_EXPIRED,
        organization_id=endpoint.organization_id,
        data={},
    )
    delivery.refresh_from_db()
    assert delivery.next_attempt_at <= delivery.retry_until
    assert delivery.retry_until - delivery.created_at == timedelta(days=1)


@pytest.mark.django_db
def test_delivery__unreachable_receiver__logs_the_error_and_retries(
    endpoint, django_capture_on_commit_callbacks
):
    # Given an endpoint whose port nobody listens on
    with Receiver() as closed:
        url = closed.url
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=url)
    (delivery,) = emit_committed(
        django_capture_on_commit_callbacks,
        event=WebhookEvent.ENTRY_GRANTED,
        organization_id=endpoint.organization_id,
        data={},
    )
    delivery.refresh_from_db()
    attempt = delivery.attempt_log.get()
    assert attempt.response_status is None and "refused" in attempt.error.lower()
    assert delivery.state == DeliveryState.RETRYING


@pytest.mark.django_db
def test_delivery__redirect__is_a_failure_and_not_followed(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [302]
    (delivery,) = emit_committed(
        django_capture_on_commit_callbacks,
        event=WebhookEvent.ENTRY_GRANTED,
        organization_id=endpoint.organization_id,
        data={},
    )
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.RETRYING
    assert delivery.attempt_log.get().response_status == 302
    assert [request["path"] for request in receiver.requests] == ["/hooks"]


@pytest.mark.django_db
def test_delivery__not_due__is_not_attempted(endpoint, receiver):
    # An emitted delivery whose after-commit task never ran (the broker was down)
    (delivery,) = services.webhook_event_emit(
        event=WebhookEvent.ENTRY_GRANTED, organization_id=endpoint.organization_id, data={}
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert services.webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert receiver.requests == []


@pytest.mark.django_db
def test_sweep__delivery_whose_task_was_lost__is_sent(endpoint, receiver):
    # Given a committed delivery whose task never reached a worker
    (delivery,) = services.webhook_event_emit(
        event=WebhookEvent.LINK_LIVE, organization_id=endpoint.organization_id, data={}
    )
    assert receiver.requests == []
    # When the minute's sweep runs
    assert services.webhook_deliveries_send_due() == 1
    # Then it goes out once, and a second sweep sends nothing more
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert services.webhook_deliveries_send_due() == 0
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_delivery__two_workers_at_once__sends_once(postgres, staff, organization, org_admin, receiver):
    endpoint = services.webhook_endpoint_create(
        actor=org_admin, organization=organization, url=receiver.url, events=[WebhookEvent.ENTRY_GRANTED]
    )
    with transaction.atomic():
        (delivery,) = services.webhook_event_emit(
            event=WebhookEvent.ENTRY_GRANTED, organization_id=endpoint.organization_id, data={}
        )
    # The after-commit task ran eagerly already; make it due again as if redelivered twice
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.PENDING, next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    sent_before = len(receiver.requests)
    results: list[object] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        from django.db import connection

        barrier.wait()
        try:
            results.append(services.webhook_delivery_attempt(delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([result for result in results if result is not None]) == 1
    assert len(receiver.requests) == sent_before + 1


@pytest.mark.django_db
def test_resend__delivered_delivery__is_sent_again_and_logged_as_manual(
    endpoint, receiver, org_admin, django_capture_on_commit_callbacks
):
    (delivery,) = emit_committed(
        django_capture_on_commit_callbacks,
        event=WebhookEvent.ENTRY_GRANTED,
        organization_id=endpoint.organization_id,
        data={},
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_delivery_resend(actor=org_admin, delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert list(delivery.attempt_log.values_list("number", "manual")) == [(1, False), (2, True)]
    assert len(receiver.requests) == 2
    assert (
        receiver.requests[0]["headers"]["X-Portal-Delivery"]
        == receiver.requests[1]["headers"]["X-Portal-Delivery"]
    )


@pytest.mark.django_db
def test_resend__by_a_member_who_cannot_manage__is_refused(endpoint, plain_member):
    from portal.errors import Forbidden

    (delivery,) = services.webhook_event_emit(
        event=WebhookEvent.ENTRY_GRANTED, organization_id=endpoint.organization_id, data={}
    )
    with pytest.raises(Forbidden):
        services.webhook_delivery_resend(actor=plain_member, delivery=delivery)


# Who hears which event


@pytest.mark.django_db
def test_emit__only_subscribed_endpoints_of_the_organization_and_platform_ones(
    staff, organization, org_admin, other_merchant_and_org
):
    other_owner, other_organization = other_merchant_and_org
    mine = services.webhook_endpoint_create(
        actor=org_admin,
        organization=organization,
        url="https://a.example.com/h",
        events=["whitelist_entry.granted"],
    )
    services.webhook_endpoint_create(
        actor=org_admin,
        organization=organization,
        url="https://b.example.com/h",
        events=["profile_link.live"],
    )
    services.webhook_endpoint_create(
        actor=other_owner,
        organization=other_organization,
        url="https://c.example.com/h",
        events=["whitelist_entry.granted"],
    )
    platform = services.webhook_endpoint_create(
        actor=staff,
        organization=None,
        url="https://platform.example.com/h",
        events=["whitelist_entry.granted"],
    )
    paused = services.webhook_endpoint_create(
        actor=org_admin,
        organization=organization,
        url="https://d.example.com/h",
        events=["whitelist_entry.granted"],
    )
    services.webhook_endpoint_update(actor=org_admin, endpoint=paused, data={"is_active": False})

    deliveries = services.webhook_event_emit(
        event=WebhookEvent.ENTRY_GRANTED, organization_id=organization.pk, data={}
    )
    assert {delivery.endpoint_id for delivery in deliveries} == {mine.pk, platform.pk}
    assert len({delivery.event_id for delivery in deliveries}) == 1


@pytest.mark.django_db
def test_endpoint__unknown_event__is_refused_naming_the_field(organization, org_admin):
    from portal.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        services.webhook_endpoint_create(
            actor=org_admin,
            organization=organization,
            url="https://a.example.com/h",
            events=["entry.exploded"],
        )
    assert "events" in refused.value.errors


@pytest.mark.django_db
def test_endpoint__platform_wide_by_a_merchant__is_refused(org_admin):
    from portal.errors import Forbidden

    with pytest.raises(Forbidden):
        services.webhook_endpoint_create(
            actor=org_admin, organization=None, url="https://a.example.com/h", events=["profile_link.live"]
        )


def _events_of(endpoint: WebhookEndpoint) -> list[str]:
    return list(endpoint.deliveries.order_by("id").values_list("event", flat=True))


@pytest.mark.django_db
def test_whitelist_services__emit_entry_and_decision_events(
    merchant, organization, org_admin, staff, policy, django_capture_on_commit_callbacks
):
    # Given an endpoint that hears everything (the receiver is not needed: deliveries are only recorded)
    endpoint = services.webhook_endpoint_create(
        actor=org_admin,
        organization=organization,
        url="https://partner.example.com/h",
        events=WebhookEvent.values,
    )
    # When an application is approved, then the entry is suspended, reinstated and revoked
    account = whitelisted(
        owner=merchant, organization=organization, reviewer=staff, platform_uid="7300000009"
    )
    entry = WhitelistEntry.objects.get(account=account)
    entry = whitelist_services.whitelist_entry_suspend(actor=staff, entry=entry, reason="Complaints")
    entry = whitelist_services.whitelist_entry_reinstate(actor=staff, entry=entry, reason="Resolved")
    whitelist_services.whitelist_entry_revoke(actor=staff, entry=entry, reason="Fraud")
    # Then each change was recorded for the endpoint, in order
    assert _events_of(endpoint) == [
        "application.decided",
        "whitelist_entry.granted",
        "whitelist_entry.suspended",
        "whitelist_entry.reinstated",
        "whitelist_entry.revoked",
    ]
    granted = endpoint.deliveries.get(event="whitelist_entry.granted").payload
    assert granted["data"]["account"]["platform_uid"] == "7300000009"
    assert granted["data"]["whitelist_entry"]["state"] == "active"
    decided = endpoint.deliveries.get(event="application.decided").payload
    assert decided["data"]["decision"] == "approved"
    suspended = endpoint.deliveries.get(event="whitelist_entry.suspended").payload
    assert suspended["data"]["reason"] == "Complaints"
    assert suspended["data"]["whitelist_entry"]["previous_state"] == "active"


@pytest.mark.django_db
def test_whitelist_expiry_job__emits_expired(merchant, organization, org_admin, staff, policy):
    endpoint = services.webhook_endpoint_create(
        actor=org_admin,
        organization=organization,
        url="https://partner.example.com/h",
        events=["whitelist_entry.expired"],
    )
    account = whitelisted(
        owner=merchant, organization=organization, reviewer=staff, platform_uid="7300000010"
    )
    WhitelistEntry.objects.filter(account=account).update(
        valid_from=timezone.now() - timedelta(days=2), valid_until=timezone.now() - timedelta(minutes=1)
    )
    assert whitelist_services.whitelist_entries_expire() == 1
    assert _events_of(endpoint) == ["whitelist_entry.expired"]


@pytest.mark.django_db
def test_profile_link_services__emit_live_and_removed(
    merchant, organization, org_admin, staff, listed_account
):
    endpoint = services.webhook_endpoint_create(
        actor=org_admin,
        organization=organization,
        url="https://partner.example.com/h",
        events=["profile_link.live", "profile_link.removed"],
    )
    miniprogram = miniprogram_services.miniprogram_create(
        actor=merchant,
        organization=organization,
        app_id="2021000000000077",
        name="Tea",
        category="business",
        description="Tea ahead.",
        capabilities=["payment"],
    )
    # Requesting a link is not news; approval puts it live, unlinking removes it
    link = miniprogram_services.profile_link_request(
        actor=merchant, miniprogram=miniprogram, account=listed_account
    )
    assert _events_of(endpoint) == []
    link = miniprogram_services.profile_link_approve(actor=staff, link=link)
    miniprogram_services.profile_link_unlink(actor=merchant, link=link, reason="Seasonal")
    assert _events_of(endpoint) == ["profile_link.live", "profile_link.removed"]
    removed = endpoint.deliveries.get(event="profile_link.removed").payload["data"]
    assert removed["profile_link"] == {"id": link.pk, "state": "unlinked", "previous_state": "live"}
    assert removed["miniprogram"]["app_id"] == "2021000000000077"
    assert removed["reason"] == "Seasonal"

    # Delisting a mini program removes its live link too
    link2 = miniprogram_services.profile_link_request(
        actor=merchant, miniprogram=miniprogram, account=listed_account
    )
    miniprogram_services.profile_link_approve(actor=staff, link=link2)
    miniprogram_services.miniprogram_delist(actor=merchant, miniprogram=miniprogram, reason="Closed")
    assert _events_of(endpoint)[-2:] == ["profile_link.live", "profile_link.removed"]


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]", "localhost"])
def test_delivery__private_address__is_refused_and_logged_without_a_request(
    settings, endpoint, receiver, host, django_capture_on_commit_callbacks
):
    # Given production's guard and an endpoint that points inside the network
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"http://{host}:{receiver.port}/hooks")
    (delivery,) = emit_committed(
        django_capture_on_commit_callbacks,
        event=WebhookEvent.ENTRY_GRANTED,
        organization_id=endpoint.organization_id,
        data={},
    )
    # Then nothing was sent, and the attempt says why
    assert receiver.requests == []
    attempt = WebhookDelivery.objects.get(pk=delivery.pk).attempt_log.get()
    assert attempt.response_status is None and attempt.error == "refused: not a public address"


def test_address_refusal__public_address__is_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    assert services.webhook_address_refusal("https://93.184.215.14/hooks") == ""


@pytest.mark.django_db(transaction=True)
def test_endpoint__same_url_registered_at_once__one_created_the_others_409(postgres, organization, org_admin):
    from django.db import connection

    from portal.errors import ApplicationError

    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def register() -> None:
        barrier.wait()
        try:
            services.webhook_endpoint_create(
                actor=org_admin,
                organization=organization,
                url="https://race.example.com/h",
                events=["profile_link.live"],
            )
            outcomes.append("created")
        except ApplicationError as error:
            outcomes.append(f"{error.status_code} {','.join(error.errors)}")
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["409 url"] * 5 + ["created"]
    assert WebhookEndpoint.objects.filter(url="https://race.example.com/h").count() == 1
