"""The choices of the accounts app: kinds, roles, platforms, verification states."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrganizationKind(models.TextChoices):
    GOVERNMENT = "government", _("Government body")
    ENTERPRISE = "enterprise", _("Enterprise")
    MEDIA = "media", _("Media")
    OTHER = "other", _("Other")


class OrganizationSource(models.TextChoices):
    SIGNED_UP = "signed_up", _("Signed up")
    DIRECTORY = "directory", _("Directory")


class MembershipRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")


# The roles that act for an organization: apply, manage its accounts, mini programs and webhooks,
# and receive its emails. Members only read.
MANAGING_ROLES = (MembershipRole.OWNER, MembershipRole.ADMIN)


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
    # The organization asked staff to verify it; staff verify or reject it with a reason.
    PENDING = "pending", _("Pending verification")
    REJECTED = "rejected", _("Rejected")


class DirectoryConflictState(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
