"""Whitelist entries (the grant) and their history."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import OfficialAccount
from portal.constraints import choices_constraint

from .applications import WhitelistApplication


class EntryState(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")


class WhitelistEntryQuerySet(models.QuerySet["WhitelistEntry"]):
    def in_force(self, now: datetime | None = None) -> "WhitelistEntryQuerySet":
        """The entries that whitelist their account at `now`: the rule of `WhitelistEntry.is_in_force`."""
        return self.filter(state=EntryState.ACTIVE, valid_until__gt=now or timezone.now())


class WhitelistEntry(models.Model):
    """The grant: an account is whitelisted while its entry is active and not past valid_until."""

    account = models.OneToOneField(OfficialAccount, on_delete=models.PROTECT, related_name="whitelist_entry")
    state = models.CharField(_("state"), max_length=20, choices=EntryState.choices, default=EntryState.ACTIVE)
    share_limit_per_hour = models.PositiveIntegerField(_("shares per hour"), default=1)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    application = models.ForeignKey(
        WhitelistApplication, on_delete=models.PROTECT, related_name="+", verbose_name=_("granted by")
    )
    revoked_at = models.DateTimeField(_("last revoked at"), null=True, blank=True)
    expiry_warning_sent_at = models.DateTimeField(_("expiry warning sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = WhitelistEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("whitelist entry")
        verbose_name_plural = _("whitelist entries")
        ordering = ["-id"]
        constraints = [
            choices_constraint("state", EntryState, "whitelist_entry_state_valid"),
            models.CheckConstraint(
                condition=Q(share_limit_per_hour__gte=1), name="whitelist_entry_share_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__gt=F("valid_from")), name="whitelist_entry_valid_range"
            ),
        ]
        indexes = [models.Index(fields=["state", "valid_until"], name="whitelist_entry_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.account.screen_name}: {self.state}"

    def is_in_force(self, now: datetime | None = None) -> bool:
        """Whether the entry whitelists its account at `now`: active and not past valid_until.

        The one rule of "whitelisted now"; `WhitelistEntry.objects.in_force(now)` is the same in SQL.
        """
        return self.state == EntryState.ACTIVE and self.valid_until > (now or timezone.now())


class WhitelistEntryEvent(models.Model):
    """The history of an entry: grants, renewals, suspensions, limits, revocation, expiry."""

    entry = models.ForeignKey(WhitelistEntry, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=30)
    from_state = models.CharField(_("from state"), max_length=20, blank=True)
    to_state = models.CharField(_("to state"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The email task's claim, then the send (only for the actions the organization is emailed about).
    notify_claimed_at = models.DateTimeField(_("email claimed at"), null=True, blank=True)
    notified_at = models.DateTimeField(_("organization emailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("whitelist entry event")
        verbose_name_plural = _("whitelist entry events")
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(notified_at__isnull=True),
                name="whitelist_entry_unnotified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.from_state}→{self.to_state}"
