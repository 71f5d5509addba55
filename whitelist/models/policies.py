"""Criteria policies (one version each), reason codes, and the preview of activating a version."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Vertical
from portal.constraints import choices_constraint

from ..constants import Criterion


def default_required_criteria() -> list[str]:
    return list(Criterion.values)


class CriteriaPolicy(models.Model):
    """One version of the whitelist criteria; a version that was ever activated is never edited."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    is_active = models.BooleanField(_("active"), default=False)
    open_verticals = models.ManyToManyField(Vertical, related_name="+", verbose_name=_("open verticals"))
    min_followers = models.PositiveBigIntegerField(_("minimum followers"), default=100_000)
    min_dev_team_size = models.PositiveIntegerField(_("minimum in-house team size"), default=3)
    min_user_services = models.PositiveIntegerField(_("minimum user-facing services"), default=1)
    support_channel_required = models.BooleanField(_("support channel required"), default=True)
    required_criteria = models.JSONField(
        _("required criteria"),
        default=default_required_criteria,
        help_text=_("Criteria whose failure makes an application ineligible."),
    )
    entry_validity_days = models.PositiveIntegerField(_("entry validity (days)"), default=365)
    default_share_limit_per_hour = models.PositiveIntegerField(_("default shares per hour"), default=1)
    max_live_links_per_account = models.PositiveIntegerField(
        _("live mini programs per account"),
        default=10,
        help_text=_("How many mini programs an account's profile may show at once."),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    activated_at = models.DateTimeField(_("first activated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("criteria policy")
        verbose_name_plural = _("criteria policies")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="whitelist_policy_one_active"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="whitelist_policy_version_positive"),
            models.CheckConstraint(
                condition=Q(entry_validity_days__gte=1), name="whitelist_policy_validity_positive"
            ),
            models.CheckConstraint(
                condition=Q(default_share_limit_per_hour__gte=1), name="whitelist_policy_share_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_live_links_per_account__gte=1), name="whitelist_policy_live_links_positive"
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(activated_at__isnull=False),
                name="whitelist_policy_active_was_activated",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version}" + (" (active)" if self.is_active else "")

    @property
    def is_frozen(self) -> bool:
        return self.activated_at is not None


class ReasonCode(models.Model):
    """A staff-managed reason for a decision, with the text the applicant reads."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    title = models.CharField(_("title"), max_length=120)
    text = models.TextField(_("canned text"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("reason code")
        verbose_name_plural = _("reason codes")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[a-z0-9_]+$"), name="whitelist_reason_code_format"
            ),
        ]

    def __str__(self) -> str:
        return str(self.title)


class PreviewStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class PolicyPreview(models.Model):
    """What activating a policy version would change: entries and open applications that flip."""

    policy = models.ForeignKey(CriteriaPolicy, on_delete=models.CASCADE, related_name="previews")
    compared_with = models.ForeignKey(CriteriaPolicy, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("status"), max_length=10, choices=PreviewStatus.choices, default=PreviewStatus.PENDING
    )
    total = models.PositiveIntegerField(_("to check"), default=0)
    checked = models.PositiveIntegerField(_("checked"), default=0)
    became_ineligible = models.PositiveIntegerField(_("would lose eligibility"), default=0)
    became_eligible = models.PositiveIntegerField(_("would gain eligibility"), default=0)
    # At most PREVIEW_LIST_LIMIT rows: {"kind", "id", "account", "before", "after"}.
    changes = models.JSONField(_("changes"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("policy preview")
        verbose_name_plural = _("policy previews")
        ordering = ["-id"]
        constraints = [choices_constraint("status", PreviewStatus, "whitelist_preview_status_valid")]

    def __str__(self) -> str:
        return f"{self.policy} vs {self.compared_with} ({self.status})"
