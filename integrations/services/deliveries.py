"""Webhook events and their deliveries: record one per endpoint, send it signed, retry, resend."""

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User

from .. import transport
from ..models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..permissions import ensure_can_manage_endpoints
from .signatures import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature

# Deliveries are retried with exponential backoff (30 s, 2 min, 8 min, ...) for this long.
RETRY_PERIOD = timedelta(days=1)
FIRST_RETRY_DELAY = timedelta(seconds=30)
BACKOFF_FACTOR = 4
# A claimed attempt that has not finished after this long (a killed worker) may be claimed again.
ATTEMPT_LEASE = timedelta(minutes=5)


def webhook_endpoints_exist() -> bool:
    """Whether any endpoint listens; callers skip building payloads when none does."""
    return WebhookEndpoint.objects.filter(is_active=True).exists()


def webhook_event_emit(*, event: str, organization_id: int, data: Mapping[str, Any]) -> list[WebhookDelivery]:
    """Record one delivery per active endpoint that wants the event; they are sent after commit.

    Called inside the transaction of the change it reports, so a rolled-back change sends
    nothing and a committed one is never lost: if the broker is down at commit, the
    minute's sweep sends the deliveries later.
    """
    assert event in WebhookEvent.values, event
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(
            Q(organization_id=organization_id) | Q(organization__isnull=True), is_active=True
        )
        if endpoint.wants(event)
    ]
    if not endpoints:
        return []
    now = timezone.now()
    event_id = uuid.uuid4()
    payload = json.loads(
        json.dumps(
            {
                "id": str(event_id),
                "type": event,
                "created_at": now,
                "organization": organization_id,
                "data": data,
            },
            cls=DjangoJSONEncoder,
        )
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            event=event,
            event_id=event_id,
            payload=payload,
            next_attempt_at=now,
            retry_until=now + RETRY_PERIOD,
            created_at=now,
        )
        for endpoint in endpoints
    )
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _enqueue(ids), robust=True)
    return deliveries


def _enqueue(delivery_ids: Iterable[int], *, countdown: float = 0, manual: bool = False) -> None:
    from ..tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.apply_async(
            kwargs={"delivery_id": delivery_id, "manual": manual}, countdown=countdown
        )


def retry_delay(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 30 s, 2 min, 8 min, 32 min, ..."""
    return FIRST_RETRY_DELAY * (BACKOFF_FACTOR ** max(0, attempts - 1))


def _claim(delivery_id: int, *, now: datetime) -> WebhookDelivery | None:
    """Take the next attempt of a delivery, so that two workers never send it at once."""
    due = Q(state__in=[DeliveryState.PENDING, DeliveryState.RETRYING]) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    with transaction.atomic():
        claimed = (
            WebhookDelivery.objects.filter(due, pk=delivery_id)
            # The delivery row only: locking its endpoint too would make a claim skip every other
            # due delivery to that endpoint while one is being claimed.
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .first()
        )
        if claimed is None:
            return None
        claimed.attempts += 1
        claimed.next_attempt_at = now + ATTEMPT_LEASE
        claimed.save(update_fields=["attempts", "next_attempt_at"])
    return claimed


def webhook_address_refusal(url: str) -> str:
    """Why a URL may not receive deliveries, as its delivery log says, or "" when it may."""
    return transport.address_refusal(url)


def webhook_delivery_attempt(*, delivery_id: int, manual: bool = False) -> WebhookAttempt | None:
    """Make the next attempt of a delivery, log it, and schedule the retry or give up.

    Returns None when the delivery is not due (delivered, given up, or claimed by another worker).
    """
    now = timezone.now()
    delivery = _claim(delivery_id, now=now)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "MiniProgramPortal-Webhooks/1.0",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.event_id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: webhook_signature(secret=endpoint.secret, timestamp=timestamp, body=body),
    }
    started = time.monotonic()
    status, text, error = transport.post(endpoint.url, body=body, headers=headers)
    duration_ms = int((time.monotonic() - started) * 1000)
    finished = timezone.now()
    with transaction.atomic():
        attempt = WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            requested_at=now,
            duration_ms=duration_ms,
            response_status=status,
            response_body=text,
            error=error,
            manual=manual,
        )
        if attempt.succeeded:
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = finished
            delivery.next_attempt_at = None
        else:
            give_up_at = delivery.retry_until
            if finished >= give_up_at:
                delivery.state = DeliveryState.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.state = DeliveryState.RETRYING
                delivery.next_attempt_at = min(finished + retry_delay(delivery.attempts), give_up_at)
                countdown = (delivery.next_attempt_at - finished).total_seconds()
                transaction.on_commit(lambda: _enqueue([delivery.pk], countdown=countdown), robust=True)
        delivery.save(update_fields=["state", "delivered_at", "next_attempt_at"])
    return attempt


@transaction.atomic
def webhook_delivery_resend(*, actor: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, whatever became of it (receivers dedupe on the event id)."""
    ensure_can_manage_endpoints(actor=actor, organization=delivery.endpoint.organization)
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.PENDING, next_attempt_at=now, retry_until=now + RETRY_PERIOD, delivered_at=None
    )
    delivery.refresh_from_db()
    transaction.on_commit(lambda: _enqueue([delivery.pk], manual=True), robust=True)
    return delivery


def webhook_deliveries_send_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Enqueue the deliveries that are due; the claim keeps a delivery from being sent twice."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            state__in=[DeliveryState.PENDING, DeliveryState.RETRYING], next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue(ids)
    return len(ids)
