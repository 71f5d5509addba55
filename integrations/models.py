"""API keys with scopes, webhook endpoints, the events sent to them and every delivery attempt."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from accounts.models import Organization
from portal.constraints import choices_constraint


class ApiKey(AbstractAPIKey):
    """A key for a service or partner: shown once, stored hashed, found by its prefix.

    A key with an organization acts for that organization's accounts; a key without one is
    platform-wide and acts for every account.
    """

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_keys",
        help_text=_("Leave empty for a platform-wide key (the platform's own services)."),
    )
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")  # type: ignore[assignment]
        verbose_name_plural = _("API keys")  # type: ignore[assignment]
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked=False, revoked_at__isnull=True)
                | Q(revoked=True, revoked_at__isnull=False),
                name="integrations_apikey_revoked_at_iff_revoked",
            ),
        ]

    @property
    def is_platform_wide(self) -> bool:
        return self.organization_id is None

    @property
    def is_usable(self) -> bool:
        return not self.revoked and not self.has_expired

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def may_act_for(self, organization_id: int) -> bool:
        """Whether the key may act for an account or object of this organization."""
        return self.organization_id is None or self.organization_id == organization_id


class WebhookEvent(models.TextChoices):
    ENTRY_GRANTED = "whitelist_entry.granted", _("Whitelist entry granted")
    ENTRY_SUSPENDED = "whitelist_entry.suspended", _("Whitelist entry suspended")
    ENTRY_REINSTATED = "whitelist_entry.reinstated", _("Whitelist entry reinstated")
    ENTRY_REVOKED = "whitelist_entry.revoked", _("Whitelist entry revoked")
    ENTRY_EXPIRED = "whitelist_entry.expired", _("Whitelist entry expired")
    LINK_LIVE = "profile_link.live", _("Profile link live")
    LINK_REMOVED = "profile_link.removed", _("Profile link removed")
    APPLICATION_DECIDED = "application.decided", _("Application decided")


class WebhookEndpoint(models.Model):
    """A URL that receives the chosen events of one organization, or of all for a platform endpoint."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        help_text=_("Leave empty for a platform-wide endpoint that receives every organization's events."),
    )
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "url"], name="integrations_endpoint_unique_url"),
        ]

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return event in self.events


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    RETRYING = "retrying", _("Retrying")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one endpoint: its body, signed at each attempt, until delivered or given up."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(_("event"), max_length=40, choices=WebhookEvent.choices)
    event_id = models.UUIDField(_("event id"))
    payload = models.JSONField(_("payload"))
    state = models.CharField(
        _("state"), max_length=12, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    retry_until = models.DateTimeField(_("retried until"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [
            choices_constraint("state", DeliveryState, name="integrations_delivery_state_valid"),
            choices_constraint("event", WebhookEvent, name="integrations_delivery_event_valid"),
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="integrations_delivery_once_per_event"
            ),
            models.CheckConstraint(
                condition=~Q(state=DeliveryState.DELIVERED) | Q(delivered_at__isnull=False),
                name="integrations_delivery_delivered_at_set",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="integrations_delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.state})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what was sent and what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    requested_at = models.DateTimeField(_("requested at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    response_status = models.PositiveIntegerField(_("response status"), null=True, blank=True)
    response_body = models.TextField(_("response body (first 2,000 characters)"), blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    manual = models.BooleanField(_("re-sent by staff"), default=False)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="integrations_attempt_number_unique"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.response_status or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300
