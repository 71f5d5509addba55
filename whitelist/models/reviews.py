"""An application's evaluations and its review timeline."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.constraints import choices_constraint

from ..constants import Recommendation
from .applications import ApplicationState, WhitelistApplication
from .policies import CriteriaPolicy, ReasonCode


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
