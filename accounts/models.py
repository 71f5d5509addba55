"""Users, organizations and their official accounts on the social platform."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from portal.constraints import choices_constraint

from .validators import CREDIT_CODE_REGEX, validate_time_zone, validate_unified_social_credit_code


def default_time_zone() -> str:
    """New users' time zone: the merchants' (MERCHANT_TIME_ZONE), read when the user is created."""
    return settings.MERCHANT_TIME_ZONE


class User(AbstractUser):
    """A person who signs in: merchant staff, agency staff or platform staff."""

    email = models.EmailField(_("email address"), blank=True)
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


class OrganizationKind(models.TextChoices):
    GOVERNMENT = "government", _("Government body")
    ENTERPRISE = "enterprise", _("Enterprise")
    MEDIA = "media", _("Media")
    OTHER = "other", _("Other")


class Organization(models.Model):
    """The legal entity behind official accounts."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganizationKind.choices)
    unified_social_credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        blank=True,
        validators=[validate_unified_social_credit_code],
        help_text=_("18 characters, as on the business licence (GB 32100-2015). Optional."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="accounts_organization_name_not_blank"),
            choices_constraint("kind", OrganizationKind, "accounts_organization_kind_valid"),
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


class MembershipRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")


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


class Platform(models.TextChoices):
    WEIBO = "weibo", _("Weibo")


class AccountKind(models.TextChoices):
    GOVERNMENT = "government", _("Government")
    ENTERPRISE = "enterprise", _("Enterprise")
    MEDIA = "media", _("Media")
    OTHER = "other", _("Other")


class VerificationStatus(models.TextChoices):
    UNVERIFIED = "unverified", _("Unverified")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")


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
