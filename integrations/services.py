"""Every write of the partner API: issuing and revoking keys, webhook endpoints and deliveries."""

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.permissions import ensure_can_manage_organization, ensure_staff
from accounts.scopes import Scope
from portal.errors import ApplicationError

from . import transport
from .models import (
    ApiKey,
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

SIGNATURE_HEADER = "X-Portal-Signature"
TIMESTAMP_HEADER = "X-Portal-Timestamp"
EVENT_HEADER = "X-Portal-Event"
DELIVERY_HEADER = "X-Portal-Delivery"
# Deliveries are retried with exponential backoff (30 s, 2 min, 8 min, ...) for this long.
RETRY_PERIOD = timedelta(days=1)
FIRST_RETRY_DELAY = timedelta(seconds=30)
BACKOFF_FACTOR = 4
# A claimed attempt that has not finished after this long (a killed worker) may be claimed again.
ATTEMPT_LEASE = timedelta(minutes=5)
API_KEY_NAME_MAX_LENGTH = 50  # the library's column


# API keys


def _scopes_clean(scopes: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(scopes))
    unknown = [scope for scope in chosen if scope not in Scope.values]
    if unknown or not chosen:
        raise ApplicationError(
            _("Choose at least one scope of: %(scopes)s.") % {"scopes": ", ".join(Scope.values)},
            errors={"scopes": [_("Unknown or missing scopes: %(scopes)s") % {"scopes": ", ".join(unknown)}]},
        )
    return chosen


@transaction.atomic
def api_key_issue(
    *,
    actor: User,
    name: str,
    scopes: Iterable[str],
    organization: Organization | None = None,
    expiry_date: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key; the returned secret is shown once and only its hash is stored."""
    ensure_staff(user=actor)
    name = (name or "").strip()
    if not name or len(name) > API_KEY_NAME_MAX_LENGTH:
        raise ApplicationError(
            _("Name the key in 1 to %(limit)d characters.") % {"limit": API_KEY_NAME_MAX_LENGTH},
            errors={"name": [_("Between 1 and %(limit)d characters.") % {"limit": API_KEY_NAME_MAX_LENGTH}]},
        )
    if expiry_date is not None and expiry_date <= timezone.now():
        raise ApplicationError(
            _("The expiry must be in the future."), errors={"expiry_date": [_("Must be in the future.")]}
        )
    key, secret = ApiKey.objects.create_key(
        name=name,
        scopes=_scopes_clean(scopes),
        organization=organization,
        expiry_date=expiry_date,
        created_by=actor,
    )
    assert isinstance(key, ApiKey)
    return key, secret


def api_key_revoke(*, actor: User, key: ApiKey) -> ApiKey:
    """Revoke a key for good; requests with it are refused from now on."""
    ensure_staff(user=actor)
    ApiKey.objects.filter(pk=key.pk, revoked=False).update(revoked=True, revoked_at=timezone.now())
    key.refresh_from_db()
    key._initial_revoked = key.revoked  # keep the library's un-revoke guard in step with the row
    return key


# Webhook endpoints


def _events_clean(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [event for event in chosen if event not in WebhookEvent.values]
    if unknown or not chosen:
        raise ApplicationError(
            _("Choose at least one event of: %(events)s.") % {"events": ", ".join(WebhookEvent.values)},
            errors={"events": [_("Unknown or missing events: %(events)s") % {"events": ", ".join(unknown)}]},
        )
    return chosen


def _ensure_may_manage_endpoints(*, actor: User, organization: Organization | None) -> None:
    if organization is None:
        ensure_staff(user=actor)
    else:
        ensure_can_manage_organization(user=actor, organization=organization)


def webhook_secret_generate() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@transaction.atomic
def webhook_endpoint_create(
    *,
    actor: User,
    organization: Organization | None,
    url: str,
    events: Iterable[str],
    description: str = "",
    is_active: bool = True,
) -> WebhookEndpoint:
    """Register an endpoint for an organization's events, or for every organization's (staff only)."""
    _ensure_may_manage_endpoints(actor=actor, organization=organization)
    _ensure_port_allowed(url)
    if WebhookEndpoint.objects.filter(organization=organization, url=url).exists():
        raise _url_taken()
    try:
        # A concurrent registration of the same URL meets the unique constraint: the same 409.
        with transaction.atomic():
            return WebhookEndpoint.objects.create(
                organization=organization,
                url=url,
                events=_events_clean(events),
                description=description,
                is_active=is_active,
                secret=webhook_secret_generate(),
                created_by=actor,
            )
    except IntegrityError:
        raise _url_taken() from None


def _ensure_port_allowed(url: str) -> None:
    """A URL naming a port that deliveries may not go to is refused when it is registered."""
    if transport.url_port_allowed(url):
        return
    allowed = ", ".join(str(port) for port in settings.WEBHOOK_ALLOWED_PORTS or [])
    raise ApplicationError(
        _("Webhook URLs may use the ports %(ports)s only.") % {"ports": allowed},
        errors={"url": [_("Use one of the ports %(ports)s.") % {"ports": allowed}]},
    )


def _url_taken() -> ApplicationError:
    return ApplicationError(
        _("This URL is already registered."),
        code="conflict",
        status_code=409,
        errors={"url": [_("Already registered.")]},
    )


@transaction.atomic
def webhook_endpoint_update(
    *, actor: User, endpoint: WebhookEndpoint, data: Mapping[str, Any]
) -> WebhookEndpoint:
    _ensure_may_manage_endpoints(actor=actor, organization=endpoint.organization)
    fields = []
    for name in ("url", "description", "is_active"):
        if name in data:
            setattr(endpoint, name, data[name])
            fields.append(name)
    if "events" in data:
        endpoint.events = _events_clean(data["events"])
        fields.append("events")
    if "url" in data:
        _ensure_port_allowed(data["url"])
    if "url" in data and (
        WebhookEndpoint.objects.filter(organization=endpoint.organization, url=data["url"])
        .exclude(pk=endpoint.pk)
        .exists()
    ):
        raise _url_taken()
    if fields:
        try:
            with transaction.atomic():
                endpoint.save(update_fields=fields)
        except IntegrityError:
            raise _url_taken() from None
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, actor: User, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    _ensure_may_manage_endpoints(actor=actor, organization=endpoint.organization)
    endpoint.secret = webhook_secret_generate()
    endpoint.save(update_fields=["secret"])
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, actor: User, endpoint: WebhookEndpoint) -> None:
    _ensure_may_manage_endpoints(actor=actor, organization=endpoint.organization)
    endpoint.delete()


# Events and deliveries


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under the endpoint's secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_signature_verify(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """The receiver's check: the signature matches and the timestamp is recent (no replays)."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent_at) > tolerance_seconds:
        return False
    return hmac.compare_digest(webhook_signature(secret=secret, timestamp=timestamp, body=body), signature)


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
    from .tasks import deliver_webhook

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
    _ensure_may_manage_endpoints(actor=actor, organization=delivery.endpoint.organization)
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
