"""Who may act for an organization."""

from django.utils.translation import gettext as _

from portal.errors import Forbidden

from .models import MANAGING_ROLES, Membership, Organization, User


def can_manage_organization(*, user: User, organization: Organization) -> bool:
    """Staff, and the owners and admins of the organization, may change its data."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    return Membership.objects.filter(
        user=user,
        organization=organization,
        role__in=MANAGING_ROLES,
    ).exists()


def ensure_can_manage_organization(*, user: User, organization: Organization) -> None:
    if not can_manage_organization(user=user, organization=organization):
        raise Forbidden(
            _("Only the owners and admins of %(organization)s can change its data.")
            % {"organization": organization.name}
        )


def ensure_staff(*, user: User) -> None:
    if not (user.is_authenticated and user.is_active and user.is_staff):
        raise Forbidden(_("Only platform staff can do this."))
