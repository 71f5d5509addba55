"""Writes of webhook endpoints: register, change, rotate the signing secret, delete."""

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from portal.errors import ApplicationError

from .. import transport
from ..models import WebhookEndpoint, WebhookEvent
from ..permissions import ensure_can_manage_endpoints


def _events_clean(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [event for event in chosen if event not in WebhookEvent.values]
    if unknown or not chosen:
        raise ApplicationError(
            _("Choose at least one event of: %(events)s.") % {"events": ", ".join(WebhookEvent.values)},
            errors={"events": [_("Unknown or missing events: %(events)s") % {"events": ", ".join(unknown)}]},
        )
    return chosen


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
    ensure_can_manage_endpoints(actor=actor, organization=organization)
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
    """Change the given fields; each is saved even when equal, as the admin's form has set them already."""
    ensure_can_manage_endpoints(actor=actor, organization=endpoint.organization)
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
    ensure_can_manage_endpoints(actor=actor, organization=endpoint.organization)
    endpoint.secret = webhook_secret_generate()
    endpoint.save(update_fields=["secret"])
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, actor: User, endpoint: WebhookEndpoint) -> None:
    ensure_can_manage_endpoints(actor=actor, organization=endpoint.organization)
    endpoint.delete()
