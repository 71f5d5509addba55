"""Criteria policies, whitelist applications with their evaluations and review events, and entries."""

import uuid
from datetime import datetime

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import OfficialAccount, Organization, Vertical
from portal.constraints import choices_constraint

from .constants import Criterion, Recommendation


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


def private_storage() -> Storage:
    return storages["private"]


def attachment_path(instance: "ApplicationAttachment", filename: str) -> str:
    # The stored name is random; the applicant's file name is kept in original_name.
    return f"applications/{instance.application_id}/{uuid.uuid4().hex}"


class AttachmentContentType(models.TextChoices):
    PDF = "application/pdf", "PDF"
    PNG = "image/png", "PNG"
    JPEG = "image/jpeg", "JPEG"


class ApplicationAttachment(models.Model):
    """A document of evidence, stored privately and shown only to the organization and staff."""

    application = models.ForeignKey(
        WhitelistApplication, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), storage=private_storage, upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=50, choices=AttachmentContentType.choices)
    size = models.PositiveIntegerField(_("size in bytes"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]
        constraints = [
            choices_constraint("content_type", AttachmentContentType, "whitelist_attachment_type_valid"),
            models.CheckConstraint(
                condition=Q(size__gt=0, size__lte=10 * 1024 * 1024), name="whitelist_attachment_size_range"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class EvaluationTrigger(models.TextChoices):
    """Why an evaluation ran; only an applicant's check can be of the applicant's making."""

    APPLICANT = "applicant", _("Applicant's check")
    SUBMISSION = "submission", _("At submission")
    STAFF = "staff", _("Re-evaluated by staff")
    DECISION = "decision", _("At decision")


# Evaluations that speak for a submitted application: an applicant's check counts only while the
# applicant may still edit it (a draft, or changes requested).
EVALUATION_TRIGGERS_OF_RECORD = (
    EvaluationTrigger.SUBMISSION,
    EvaluationTrigger.STAFF,
    EvaluationTrigger.DECISION,
)


class Evaluation(models.Model):
    """The criteria's result on an application under one policy version, with the facts it read."""

    application = models.ForeignKey(
        WhitelistApplication, on_delete=models.CASCADE, related_name="evaluations"
    )
    policy = models.ForeignKey(CriteriaPolicy, on_delete=models.PROTECT, related_name="evaluations")
    results = models.JSONField(_("results"))
    recommendation = models.CharField(_("recommendation"), max_length=20, choices=Recommendation.choices)
    # The database defaults let bulk loaders that predate these columns (seed_scale) insert rows.
    trigger = models.CharField(
        _("trigger"),
        max_length=20,
        choices=EvaluationTrigger.choices,
        db_default=EvaluationTrigger.SUBMISSION,
    )
    # The account facts it read (verification, vertical, followers), as they were; {} before they were kept.
    facts = models.JSONField(_("facts read"), db_default=models.Value({}, output_field=models.JSONField()))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("evaluation")
        verbose_name_plural = _("evaluations")
        ordering = ["-id"]
        get_latest_by = "id"
        constraints = [
            choices_constraint("recommendation", Recommendation, "whitelist_evaluation_recommendation_valid"),
            choices_constraint("trigger", EvaluationTrigger, "whitelist_evaluation_trigger_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.recommendation} under {self.policy}"


class ReviewEvent(models.Model):
    """One step in an application's timeline: a transition or a note, with who, when and why."""

    application = models.ForeignKey(WhitelistApplication, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    from_state = models.CharField(_("from state"), max_length=20, blank=True)
    to_state = models.CharField(_("to state"), max_length=20, blank=True)
    reason_code = models.ForeignKey(ReasonCode, on_delete=models.PROTECT, null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    visible_to_applicant = models.BooleanField(_("visible to the applicant"), default=True)
    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # The email task's claim, then the send (portal/email_claims.py): a claim that expired unsent is
    # taken again by the sweep, a sent email never.
    notify_claimed_at = models.DateTimeField(_("email claimed at"), null=True, blank=True)
    notified_at = models.DateTimeField(_("organization emailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("review event")
        verbose_name_plural = _("review events")
        ordering = ["id"]
        indexes = [
            # The sweep of emails never sent looks only at recent events that are not sent.
            models.Index(
                fields=["created_at"],
                condition=Q(notified_at__isnull=True, visible_to_applicant=True),
                name="whitelist_review_unnotified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_state or '-'} → {self.to_state or 'note'}"

    @property
    def is_note(self) -> bool:
        return not self.to_state

    @property
    def to_state_label(self) -> str:
        return str(ApplicationState(self.to_state).label) if self.to_state else ""


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
