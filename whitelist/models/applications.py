"""Whitelist applications, with their evidence, and the states they move through."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import OfficialAccount, Organization
from portal.constraints import choices_constraint


class ApplicationState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    CHANGES_REQUESTED = "changes_requested", _("Changes requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_APPLICATION_STATES = (
    ApplicationState.DRAFT,
    ApplicationState.SUBMITTED,
    ApplicationState.CHANGES_REQUESTED,
)


# The states in which the applicant may change the evidence and check it against the criteria.
EDITABLE_APPLICATION_STATES = (ApplicationState.DRAFT, ApplicationState.CHANGES_REQUESTED)


class WhitelistApplication(models.Model):
    """An official account's request to be whitelisted, with its evidence."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.PROTECT, related_name="applications")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="applications")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(
        _("state"), max_length=20, choices=ApplicationState.choices, default=ApplicationState.DRAFT
    )
    has_in_house_team = models.BooleanField(_("has an in-house development team"), default=False)
    dev_team_size = models.PositiveIntegerField(_("in-house team size"), default=0)
    self_developed_products = models.JSONField(_("self-developed products"), default=list, blank=True)
    services = models.JSONField(_("user-facing services"), default=list, blank=True)
    support_channels = models.JSONField(_("support channels"), default=list, blank=True)
    after_sales_policy = models.TextField(_("after-sales policy"), blank=True)
    description = models.TextField(_("description"), blank=True)
    submitted_at = models.DateTimeField(_("last submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("whitelist application")
        verbose_name_plural = _("whitelist applications")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(state__in=[state.value for state in OPEN_APPLICATION_STATES]),
                name="whitelist_one_open_application_per_account",
            ),
            choices_constraint("state", ApplicationState, "whitelist_application_state_valid"),
            models.CheckConstraint(
                condition=Q(has_in_house_team=True) | Q(dev_team_size=0),
                name="whitelist_application_team_size_needs_team",
            ),
        ]
        permissions = [
            ("override_criteria", _("May approve an application past a failed required criterion")),
        ]
        indexes = [
            models.Index(fields=["state", "submitted_at"], name="whitelist_app_queue_idx"),
            # The admin's list, oldest submission first, across all states.
            models.Index(fields=["submitted_at", "id"], name="whitelist_app_submitted_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.account.screen_name} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_APPLICATION_STATES
