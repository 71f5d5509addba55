"""Reads of users, organizations and official accounts, scoped to who asks."""

from django.db.models import Q, QuerySet

from .models import Membership, MembershipRole, OfficialAccount, Organization, User, Vertical


def organization_list_for(*, user: User) -> QuerySet[Organization]:
    """The organizations a user belongs to (all of them for staff)."""
    if user.is_staff:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user).distinct()


def organization_list_managed_by(*, user: User) -> QuerySet[Organization]:
    """The organizations whose data a user may change."""
    if user.is_staff:
        return Organization.objects.all()
    return Organization.objects.filter(
        memberships__user=user,
        memberships__role__in=[MembershipRole.OWNER, MembershipRole.ADMIN],
    ).distinct()


def organization_default_for(*, user: User) -> Organization | None:
    """The user's organization when it has exactly one it may manage, else None."""
    managed = list(
        Membership.objects.filter(
            user=user, role__in=[MembershipRole.OWNER, MembershipRole.ADMIN]
        ).select_related("organization")[:2]
    )
    return managed[0].organization if len(managed) == 1 else None


def official_account_search(search: str) -> Q:
    """The accounts a search names: part of the screen name in any case, or the exact platform uid."""
    return Q(screen_name__icontains=search) | Q(platform_uid=search)


def official_account_list_visible_to(
    *, user: User, search: str = "", verification_status: str = "", vertical: str = ""
) -> QuerySet[OfficialAccount]:
    """Official accounts a user may see: its organizations' accounts, or all for staff."""
    accounts = OfficialAccount.objects.select_related("organization", "vertical")
    if not user.is_staff:
        accounts = accounts.filter(
            organization__in=Membership.objects.filter(user=user).values("organization")
        )
    if search:
        accounts = accounts.filter(official_account_search(search))
    if verification_status:
        accounts = accounts.filter(verification_status=verification_status)
    if vertical:
        accounts = accounts.filter(vertical__code=vertical)
    return accounts.order_by("-id")


def vertical_list() -> QuerySet[Vertical]:
    return Vertical.objects.order_by("code")
