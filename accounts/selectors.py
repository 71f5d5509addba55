"""Reads of users, organizations and official accounts, scoped to who asks."""

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.email_claims import email_claimable
from portal.errors import InvalidInput

from .models import MANAGING_ROLES, Membership, MembershipRole, OfficialAccount, Organization, User, Vertical


def organization_ids_of(*, user: User) -> QuerySet[Membership, int]:
    """The ids of the organizations a user belongs to, as a subquery: the scope of every merchant's list."""
    return Membership.objects.filter(user=user).values_list("organization", flat=True)


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
        memberships__role__in=MANAGING_ROLES,
    ).distinct()


def organization_default_for(*, user: User) -> Organization | None:
    """The user's organization when it has exactly one it may manage, else None."""
    managed = list(
        Membership.objects.filter(user=user, role__in=MANAGING_ROLES).select_related("organization")[:2]
    )
    return managed[0].organization if len(managed) == 1 else None


def organization_for_new(*, user: User, chosen: Organization | None) -> Organization:
    """The organization a new object goes to: the one chosen, else the only one the user manages."""
    organization = chosen or organization_default_for(user=user)
    if organization is None:
        message = _("This field is required when you do not manage exactly one organization.")
        raise InvalidInput({"organization": [message]})
    return organization


def official_account_search(search: str) -> Q:
    """The accounts a search names: part of the screen name in any case, or the exact platform uid."""
    return Q(screen_name__icontains=search) | Q(platform_uid=search)


def official_account_list_visible_to(
    *, user: User, search: str = "", verification_status: str = "", vertical: str = ""
) -> QuerySet[OfficialAccount]:
    """Official accounts a user may see: its organizations' accounts, or all for staff."""
    accounts = OfficialAccount.objects.select_related("organization", "vertical")
    if not user.is_staff:
        accounts = accounts.filter(organization__in=organization_ids_of(user=user))
    if search:
        accounts = accounts.filter(official_account_search(search))
    if verification_status:
        accounts = accounts.filter(verification_status=verification_status)
    if vertical:
        accounts = accounts.filter(vertical__code=vertical)
    return accounts.order_by("-id")


def vertical_list() -> QuerySet[Vertical]:
    return Vertical.objects.order_by("code")


# Emails the sweep sends late: older than the grace (the normal task had its chance), and not older
# than the horizon (by then the user has seen the news on the site; a stale email would only confuse).
EMAIL_SWEEP_GRACE = timedelta(minutes=10)
EMAIL_SWEEP_HORIZON = timedelta(days=2)
EMAIL_SWEEP_BATCH = 1000


def user_ids_awaiting_welcome_email(*, now: datetime | None = None) -> list[int]:
    """Recent sign-ups whose welcome email was never sent (the broker was down at commit, the task lost,
    or the worker killed before it sent)."""
    now = now or timezone.now()
    return list(
        User.objects.filter(
            # Never sent, and not being sent: a claim that expired unsent is taken again.
            email_claimable(
                claimed_field="welcome_email_claimed_at", sent_field="welcome_email_sent_at", now=now
            ),
            is_active=True,
            is_staff=False,
            date_joined__lte=now - EMAIL_SWEEP_GRACE,
            date_joined__gt=now - EMAIL_SWEEP_HORIZON,
        )
        # Sign-up makes the owner membership; users made otherwise (staff, seed data) get no welcome.
        .filter(Exists(Membership.objects.filter(user=OuterRef("pk"), role=MembershipRole.OWNER)))
        .exclude(email="")
        .order_by("date_joined", "pk")
        .values_list("pk", flat=True)[:EMAIL_SWEEP_BATCH]
    )


def organization_managers_to_email(*, organization_id: int) -> list[User]:
    """The owners and admins of an organization whom the portal may mail (User.may_be_emailed)."""
    return list(
        User.objects.may_be_emailed()
        .filter(
            memberships__organization_id=organization_id,
            memberships__role__in=MANAGING_ROLES,
        )
        .only("email", "language", "time_zone")
        .order_by("pk")
        .distinct()
    )
