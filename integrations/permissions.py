"""Who may manage webhook endpoints and their deliveries.

Who may act for an organization is accounts' rule (accounts/permissions.py); an endpoint for every
organization's events is staff's alone.
"""

from accounts.models import Organization, User
from accounts.permissions import ensure_can_manage_organization, ensure_staff


def ensure_can_manage_endpoints(*, actor: User, organization: Organization | None) -> None:
    """The owners and admins of the organization, and staff; staff alone for a platform-wide endpoint."""
    if organization is None:
        ensure_staff(user=actor)
    else:
        ensure_can_manage_organization(user=actor, organization=organization)
