"""Who may act on the whitelist: applicants, reviewers, and staff who may override the criteria."""

from django.utils.translation import gettext as _

from accounts.models import MANAGING_ROLES, Membership, OfficialAccount, User
from accounts.permissions import ensure_staff
from portal.errors import Forbidden

from .models import WhitelistApplication

OVERRIDE_CRITERIA_PERMISSION = "whitelist.override_criteria"


def ensure_applicant(*, user: User, application_or_account: WhitelistApplication | OfficialAccount) -> None:
    """Owners and admins of the applicant organization act on its applications; staff do not."""
    organization_id = application_or_account.organization_id
    if not Membership.objects.filter(
        user=user,
        organization_id=organization_id,
        role__in=MANAGING_ROLES,
    ).exists():
        raise Forbidden(_("Only the owners and admins of the applicant organization can do this."))


def ensure_reviewer(*, user: User, application: WhitelistApplication) -> None:
    """Staff decide, except on an application of an organization they belong to."""
    ensure_staff(user=user)
    if Membership.objects.filter(user=user, organization_id=application.organization_id).exists():
        raise Forbidden(_("You belong to the applicant organization, so another reviewer must decide."))


def can_override_criteria(*, user: User) -> bool:
    """Staff holding the dedicated permission may approve past a failed required criterion."""
    return bool(user.is_staff and user.is_active and user.has_perm(OVERRIDE_CRITERIA_PERMISSION))
