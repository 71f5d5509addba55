"""Who may do what with mini programs, profile links and shares.

Who may act for an organization is accounts' rule (accounts/permissions.py); this module says which
organization each action is for, and adds the one rule of its own: who may share for an account.
"""

from django.utils.translation import gettext as _

from accounts.models import Membership, Organization, User
from accounts.permissions import ensure_can_manage_organization, ensure_staff
from integrations.models import ApiKey
from portal.errors import Forbidden

from .models import MiniProgram, ProfileLink


def ensure_can_manage_miniprogram(*, user: User, miniprogram: MiniProgram) -> None:
    """The owners and admins of the mini program's organization, and staff."""
    ensure_can_manage_organization(user=user, organization=miniprogram.organization)


def ensure_can_unlink(*, user: User, link: ProfileLink) -> None:
    """The owners and admins of the linked account's organization, and staff."""
    ensure_can_manage_organization(user=user, organization=link.account.organization)


def ensure_can_decide_links(*, user: User) -> None:
    """Only staff approve or reject profile links."""
    ensure_staff(user=user)


def manage_refusal(*, user: User, organization: Organization) -> str:
    """Why the user may not change the organization's data, or "" when it may."""
    try:
        ensure_can_manage_organization(user=user, organization=organization)
    except Forbidden as error:
        return error.message
    return ""


def can_share_for(*, user: User, organization_id: int) -> bool:
    """Any member of an organization may share for its accounts."""
    return Membership.objects.filter(user=user, organization_id=organization_id).exists()


def ensure_can_share(*, actor: User | None, api_key: ApiKey | None, organization_id: int) -> None:
    """A member of the organization; with no actor, an API key of the organization or a platform-wide one."""
    if actor is not None:
        if not can_share_for(user=actor, organization_id=organization_id):
            raise Forbidden(_("Only members of the account's organization can share for it."))
    elif api_key is None or not api_key.may_act_for(organization_id):
        raise Forbidden(_("This API key cannot share for accounts of this organization."))
