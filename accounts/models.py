"""Users, organizations and their official accounts on the social platform."""

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from portal.constraints import choices_constraint

# The choices live in constants.py; they stay importable from here, as every app imports them.
from .constants import MANAGING_ROLES as MANAGING_ROLES
from .constants import (
    AccountKind,
    DirectoryConflictState,
    MembershipRole,
    OrganizationKind,
    OrganizationSource,
    Platform,
    VerificationStatus,
)
from .validators import CREDIT_CODE_REGEX, validate_time_zone, validate_unified_social_credit_code


def default_time_zone() -> str:
    """New users' time zone: the merchants' (MERCHANT_TIME_ZONE), read when the user is created."""
    return settings.MERCHANT_TIME_ZONE


class UserQuerySet(models.QuerySet["User"]):
    def may_be_emailed(self) -> "UserQuerySet":
        """The users the portal may mail: active, with an email address they confirmed.

        Until an address is confirmed (the link of the sign-up email), the portal sends it nothing else:
        an address typed by someone else must not receive reset links or review news.
        """
        return self.filter(is_active=True, email_confirmed_at__isnull=False).exclude(email="")


class PortalUserManager(UserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    pass


class User(AbstractUser):
    """A person who signs in: merchant staff, agency staff or platform staff."""

    email = models.EmailField(_("email address"), blank=True)
    # The welcome email's claim, then its send (portal/email_claims.py).
    welcome_email_claimed_at = models.DateTimeField(_("welcome email claimed at"), null=True, blank=True)
    # When the user opened the confirmation link sent to `email`; until then it is mailed nothing else.
    email_confirmed_at = models.DateTimeField(_("email confirmed at"), null=True, blank=True)
    welcome_email_sent_at = models.DateTimeField(_("welcome email sent at"), null=True, blank=True)
    # The merchant pages and the emails to this user are in this language and show times in this zone.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text=_("An IANA time zone name, such as Asia/Shanghai."),
    )

    objects: ClassVar[PortalUserManager] = PortalUserManager()
    # The address as loaded from the database (None for a new user, or when not loaded).
    _loaded_email: str | None = None

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~Q(email=""), name="accounts_user_email_unique_ci"
            ),
            models.CheckConstraint(
                condition=Q(language__in=[code for code, _name in settings.LANGUAGES]),
                name="accounts_user_language_valid",
            ),
            models.CheckConstraint(condition=~Q(time_zone=""), name="accounts_user_time_zone_not_blank"),
        ]

    @property
    def may_be_emailed(self) -> bool:
        """The rule of UserQuerySet.may_be_emailed, for a user already loaded."""
        return self.is_active and bool(self.email) and self.email_confirmed_at is not None

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> "User":
        user = super().from_db(db, field_names, values)
        user._loaded_email = user.__dict__.get("email")
        return user

    def save(self, *args: Any, **kwargs: Any) -> None:
        loaded_email = self._loaded_email
        if (
            loaded_email is not None
            and self.email_confirmed_at is not None
            and self.email.lower() != loaded_email.lower()
        ):
            # A new address is confirmed anew before the portal mails it (the old link names the old one).
            self.email_confirmed_at = None
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "email_confirmed_at"}
        # set_password() keeps the new raw password until the save: whoever held the old password may hold
        # an API token too, so a changed or reset password ends every token (sessions end by Django's own
        # session hash). Every way to set a password (reset, admin, set_password + save) passes here.
        password_changed = self._password is not None and not self._state.adding  # type: ignore[attr-defined]
        super().save(*args, **kwargs)
        if password_changed:
            Token.objects.filter(user_id=self.pk).delete()
        self._loaded_email = self.email


class Organization(models.Model):
    """The legal entity behind official accounts.

    Anyone can sign up with any name or code, so the directory hands accounts only to organizations it
    created itself or whose identity staff verified (`is_trusted_by_directory`).
    """

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganizationKind.choices)
    unified_social_credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        validators=[validate_unified_social_credit_code],
        help_text=_("18 characters, as on the business licence (GB 32100-2015). Optional."),
    )
    source = models.CharField(
        _("source"),
        max_length=20,
        choices=OrganizationSource.choices,
        default=OrganizationSource.SIGNED_UP,
        # Also in the database, for the rows that bulk loads (seed_scale's COPY) write without it.
        db_default=OrganizationSource.SIGNED_UP,
        help_text=_("Who created it: a merchant signing up, or the directory import."),
    )
    identity_verified_at = models.DateTimeField(
        _("identity verified at"),
        null=True,
        blank=True,
        help_text=_("When staff checked that this organization is who its name and code say."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="accounts_organization_name_not_blank"),
            choices_constraint("kind", OrganizationKind, "accounts_organization_kind_valid"),
            choices_constraint("source", OrganizationSource, "accounts_organization_source_valid"),
            models.CheckConstraint(
                condition=Q(unified_social_credit_code="")
                | Q(unified_social_credit_code__regex=CREDIT_CODE_REGEX),
                name="accounts_organization_credit_code_format",
            ),
            models.UniqueConstraint(
                fields=["unified_social_credit_code"],
                condition=~Q(unified_social_credit_code=""),
                name="accounts_organization_credit_code_unique",
            ),
        ]
        indexes = [
            # The directory import finds organizations by exact name when no credit code is given.
            models.Index(fields=["name"], name="accounts_organization_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_trusted_by_directory(self) -> bool:
        return self.source == OrganizationSource.DIRECTORY or self.identity_verified_at is not None


class Membership(models.Model):
    """A user's role in an organization."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=MembershipRole.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="accounts_membership_user_organization_unique"
            ),
            choices_constraint("role", MembershipRole, "accounts_membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


class Vertical(models.Model):
    """A category of accounts that staff open or close for the programme."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("vertical")
        verbose_name_plural = _("verticals")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=r"^[a-z0-9_]+$"), name="accounts_vertical_code_format"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="accounts_vertical_name_not_blank"),
        ]

    def __str__(self) -> str:
        return str(self.name)


class OfficialAccount(models.Model):
    """One official account on the social platform, owned by an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="official_accounts")
    platform = models.CharField(
        _("platform"), max_length=20, choices=Platform.choices, default=Platform.WEIBO
    )
    platform_uid = models.CharField(_("platform uid"), max_length=64)
    screen_name = models.CharField(_("screen name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=AccountKind.choices)
    vertical = models.ForeignKey(Vertical, on_delete=models.PROTECT, related_name="official_accounts")
    followers_count = models.PositiveBigIntegerField(_("followers"), default=0)
    verification_status = models.CharField(
        _("verification"),
        max_length=20,
        choices=VerificationStatus.choices,
        default=VerificationStatus.UNVERIFIED,
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    # Staff's reason for the last verification decision; the merchant reads it on a rejection.
    verification_reason = models.TextField(_("verification reason"), blank=True, default="", db_default="")
    # The organization's last request for verification, and what it told staff with it.
    verification_requested_at = models.DateTimeField(_("verification requested at"), null=True, blank=True)
    verification_request_note = models.TextField(
        _("note to the verifying staff"), blank=True, default="", db_default="", max_length=2000
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("official account")
        verbose_name_plural = _("official accounts")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_uid"], name="accounts_officialaccount_platform_uid_unique"
            ),
            choices_constraint("platform", Platform, "accounts_officialaccount_platform_valid"),
            choices_constraint("kind", AccountKind, "accounts_officialaccount_kind_valid"),
            choices_constraint(
                "verification_status",
                VerificationStatus,
                "accounts_officialaccount_verification_valid",
            ),
            models.CheckConstraint(
                condition=~Q(platform_uid=""), name="accounts_officialaccount_uid_not_blank"
            ),
            models.CheckConstraint(
                condition=~Q(screen_name=""), name="accounts_officialaccount_screen_name_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(followers_count__gte=0),
                name="accounts_officialaccount_followers_not_negative",
            ),
            # verified_at is set exactly when the account is verified.
            models.CheckConstraint(
                condition=(
                    Q(verification_status=VerificationStatus.VERIFIED, verified_at__isnull=False)
                    | (~Q(verification_status=VerificationStatus.VERIFIED) & Q(verified_at__isnull=True))
                ),
                name="accounts_officialaccount_verified_at_matches_status",
            ),
            # A pending account says when it was asked for.
            models.CheckConstraint(
                condition=~Q(verification_status=VerificationStatus.PENDING)
                | Q(verification_requested_at__isnull=False),
                name="accounts_officialaccount_pending_has_request",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-id"], name="accounts_oa_org_id_idx"),
            models.Index(fields=["vertical", "kind"], name="accounts_oa_vertical_kind_idx"),
            # The admin's list filters count their rows exactly: without these, a full scan each.
            models.Index(fields=["kind"], name="accounts_oa_kind_idx"),
            models.Index(fields=["verification_status"], name="accounts_oa_verification_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.screen_name} ({self.platform}:{self.platform_uid})"

    @property
    def is_verified(self) -> bool:
        return self.verification_status == VerificationStatus.VERIFIED


class DirectoryConflict(models.Model):
    """A directory row that named another owner than the organization holding the account.

    The row changed nothing; staff decide who owns the account and resolve the conflict.
    """

    account = models.ForeignKey(OfficialAccount, on_delete=models.CASCADE, related_name="directory_conflicts")
    holder = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("holding organization")
    )
    # The organization the row named, when the portal knows it; the name and code are the row's.
    claimant = models.ForeignKey(
        Organization,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organization named by the row"),
    )
    claimed_name = models.CharField(_("name in the row"), max_length=200, blank=True)
    claimed_credit_code = models.CharField(_("credit code in the row"), max_length=18, blank=True)
    row = models.JSONField(_("row"), default=dict)
    line = models.PositiveIntegerField(_("line"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=DirectoryConflictState.choices, default=DirectoryConflictState.OPEN
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolution = models.TextField(_("resolution"), blank=True)

    class Meta:
        verbose_name = _("directory conflict")
        verbose_name_plural = _("directory conflicts")
        ordering = ["-id"]
        constraints = [
            choices_constraint("state", DirectoryConflictState, "accounts_directoryconflict_state_valid"),
            # The same row imported again adds nothing while its conflict is open.
            models.UniqueConstraint(
                fields=["account", "holder", "claimed_name", "claimed_credit_code"],
                condition=Q(state=DirectoryConflictState.OPEN),
                name="accounts_directoryconflict_open_unique",
            ),
            models.CheckConstraint(
                condition=Q(state=DirectoryConflictState.OPEN, resolved_at__isnull=True)
                | Q(state=DirectoryConflictState.RESOLVED, resolved_at__isnull=False),
                name="accounts_directoryconflict_resolved_at_matches_state",
            ),
        ]
        indexes = [models.Index(fields=["state", "-id"], name="accounts_dirconflict_state_idx")]

    def __str__(self) -> str:
        return f"{self.account} ({self.state})"
