"""Mini programs of organizations and the links that put them on official accounts' profiles."""

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import OfficialAccount, Organization
from portal.constraints import choices_constraint

# The payment platform's app ids are 16 ASCII digits (\d would also accept other scripts' digits).
APP_ID_REGEX = r"^[0-9]{16}$"
NAME_MAX_LENGTH = 40


class Category(models.TextChoices):
    BUSINESS = "business", _("Business")
    LIFE_SERVICE = "life_service", _("Life service")


class Capability(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    CARD = "card", _("Card")
    SEARCH = "search", _("Search")
    CONTENT = "content", _("Content")
    TOPIC = "topic", _("Topic")


class MiniProgramState(models.TextChoices):
    ACTIVE = "active", _("Active")
    DELISTED = "delisted", _("Delisted")


ICON_EXTENSIONS = (".png", ".jpg")


def icon_path(instance: "MiniProgram", filename: str) -> str:
    # A fresh random name per upload, so a replaced icon is never served from a stale cache. The
    # service names the file by its checked type; /media/ gives the content type from the extension.
    extension = next((ext for ext in ICON_EXTENSIONS if filename.lower().endswith(ext)), "")
    return f"miniprograms/icons/{instance.pk}/{uuid.uuid4().hex}{extension}"


class MiniProgram(models.Model):
    """A mini program of the payment platform, registered by an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="miniprograms")
    app_id = models.CharField(
        _("app id"),
        max_length=16,
        unique=True,
        validators=[RegexValidator(APP_ID_REGEX, _("The app id is exactly 16 digits."))],
        help_text=_("The payment platform's app id: 16 digits."),
    )
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    description = models.TextField(_("description"), blank=True)
    icon = models.FileField(_("icon"), upload_to=icon_path, max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    capabilities = models.JSONField(_("capabilities"), default=list, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=MiniProgramState.choices, default=MiniProgramState.ACTIVE
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("mini program")
        verbose_name_plural = _("mini programs")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(app_id__regex=APP_ID_REGEX), name="miniprograms_app_id_format"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="miniprograms_name_not_blank"),
            choices_constraint("category", Category, "miniprograms_category_valid"),
            choices_constraint("state", MiniProgramState, "miniprograms_state_valid"),
        ]
        indexes = [models.Index(fields=["organization", "-id"], name="miniprograms_org_id_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.app_id})"

    @property
    def is_active(self) -> bool:
        return self.state == MiniProgramState.ACTIVE


class ProfileLinkState(models.TextChoices):
    PENDING_REVIEW = "pending_review", _("Pending review")
    LIVE = "live", _("Live")
    REJECTED = "rejected", _("Rejected")
    UNLINKED = "unlinked", _("Unlinked")


OPEN_LINK_STATES = (ProfileLinkState.PENDING_REVIEW, ProfileLinkState.LIVE)


class ProfileLink(models.Model):
    """A mini program shown (or asked to be shown) on an official account's profile page."""

    miniprogram = models.ForeignKey(MiniProgram, on_delete=models.PROTECT, related_name="profile_links")
    account = models.ForeignKey(OfficialAccount, on_delete=models.PROTECT, related_name="profile_links")
    state = models.CharField(
        _("state"), max_length=20, choices=ProfileLinkState.choices, default=ProfileLinkState.PENDING_REVIEW
    )
    position = models.PositiveIntegerField(_("position on the profile"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason of the last decision"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("profile link")
        verbose_name_plural = _("profile links")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["miniprogram", "account"],
                condition=Q(state__in=[state.value for state in OPEN_LINK_STATES]),
                name="miniprograms_one_open_link_per_account",
            ),
            choices_constraint("state", ProfileLinkState, "miniprograms_link_state_valid"),
        ]
        indexes = [
            # The profile page reads an account's live links in order.
            models.Index(fields=["account", "state", "position"], name="miniprograms_link_profile_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.miniprogram.name} on {self.account.screen_name} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_LINK_STATES


class ProfileLinkEvent(models.Model):
    """One step in a profile link's history, with who, when and why."""

    link = models.ForeignKey(ProfileLink, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    from_state = models.CharField(_("from state"), max_length=20, blank=True)
    to_state = models.CharField(_("to state"), max_length=20)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("profile link event")
        verbose_name_plural = _("profile link events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.from_state or '·'} → {self.to_state}"


class ShareQuota(models.Model):
    """An account's share counter; it carries its window, so it is right even if the reset never runs."""

    account = models.OneToOneField(OfficialAccount, on_delete=models.CASCADE, related_name="share_quota")
    window_start = models.DateTimeField(_("window start"))
    used = models.PositiveIntegerField(_("shares used in the window"), default=0)

    class Meta:
        verbose_name = _("share quota")
        verbose_name_plural = _("share quotas")
        # No index on window_start or used: every share and every reset updates both, and without an
        # index on them PostgreSQL updates the row in place (HOT; the table keeps free room per page,
        # migration 0005). The hourly reset reads the table once instead (docs/benchmarks.md, row 4).

    def __str__(self) -> str:
        return f"{self.account_id}: {self.used} since {self.window_start:%Y-%m-%d %H:00}"


class Share(models.Model):
    """One granted share; the unique (account, window, slot) key makes over-granting impossible."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.PROTECT, related_name="shares")
    miniprogram = models.ForeignKey(MiniProgram, on_delete=models.PROTECT, related_name="shares")
    link = models.ForeignKey(ProfileLink, on_delete=models.PROTECT, related_name="shares")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        "integrations.ApiKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    window_start = models.DateTimeField(_("window start"))
    slot = models.PositiveIntegerField(_("slot in the window"))
    limit = models.PositiveIntegerField(_("limit when granted"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True)
    request_fingerprint = models.CharField(_("request fingerprint"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("share")
        verbose_name_plural = _("shares")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "window_start", "slot"], name="mp_share_one_per_slot"),
            models.CheckConstraint(
                condition=Q(slot__gte=1) & Q(slot__lte=models.F("limit")), name="mp_share_slot_within_limit"
            ),
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="mp_share_idempotency_key_unique",
            ),
        ]
        indexes = [models.Index(fields=["window_start", "account"], name="mp_share_window_account_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} shared {self.miniprogram_id} ({self.slot}/{self.limit})"


class ShareWindowUsage(models.Model):
    """How many shares an account was granted in a closed window, recorded by the hourly reset."""

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField(_("window start"))
    used = models.PositiveIntegerField(_("shares"))

    class Meta:
        verbose_name = _("share window usage")
        verbose_name_plural = _("share window usage")
        constraints = [
            models.UniqueConstraint(fields=["account", "window_start"], name="mp_usage_account_window_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.window_start:%Y-%m-%d %H:00}: {self.used}"


class QuotaResetRun(models.Model):
    """One run of the hourly reset: what it did and how long it took."""

    window_start = models.DateTimeField(_("window it opened"))
    started_at = models.DateTimeField(_("started at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    quotas_reset = models.PositiveIntegerField(_("quotas reset"))
    windows_recorded = models.PositiveIntegerField(_("window usages recorded"))

    class Meta:
        verbose_name = _("quota reset run")
        verbose_name_plural = _("quota reset runs")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}: {self.quotas_reset} reset"
