"""Reads of mini programs, profile links and shares, scoped to who asks."""

from django.db.models import Count, QuerySet
from django.utils.translation import ngettext

from accounts.models import OfficialAccount, User
from accounts.selectors import organization_ids_of

from .models import OPEN_LINK_STATES, MiniProgram, ProfileLink, ProfileLinkState, Share


def miniprogram_list_visible_to(
    *, user: User, state: str = "", account_id: int | None = None
) -> QuerySet[MiniProgram]:
    """Mini programs of the user's organizations (all for staff); by account: those linked to it, pending
    or live."""
    miniprograms = MiniProgram.objects.select_related("organization")
    if not user.is_staff:
        miniprograms = miniprograms.filter(organization__in=organization_ids_of(user=user))
    if state:
        miniprograms = miniprograms.filter(state=state)
    if account_id is not None:
        miniprograms = miniprograms.filter(
            pk__in=ProfileLink.objects.filter(account_id=account_id, state__in=OPEN_LINK_STATES).values(
                "miniprogram"
            )
        )
    return miniprograms.order_by("-id")


def profile_link_list_visible_to(
    *, user: User, state: str = "", account_id: int | None = None, miniprogram_id: int | None = None
) -> QuerySet[ProfileLink]:
    links = ProfileLink.objects.select_related("miniprogram", "account", "account__organization")
    if not user.is_staff:
        links = links.filter(account__organization__in=organization_ids_of(user=user))
    if state:
        links = links.filter(state=state)
    if account_id is not None:
        links = links.filter(account_id=account_id)
    if miniprogram_id is not None:
        links = links.filter(miniprogram_id=miniprogram_id)
    return links.order_by("-id")


def share_list_visible_to(*, user: User) -> QuerySet[Share]:
    """Shares made for the accounts of the user's organizations (all for staff), newest first."""
    shares = Share.objects.all()
    if not user.is_staff:
        shares = shares.filter(account__organization__in=organization_ids_of(user=user))
    return shares.order_by("-id")


def account_profile_link_dependents(account: OfficialAccount) -> list[str]:
    """The account's profile links that are pending review or live."""
    counts = dict(
        ProfileLink.objects.filter(account_id=account.pk, state__in=OPEN_LINK_STATES)
        .order_by()
        .values_list("state")
        .annotate(count=Count("id"))
    )
    dependents = []
    if pending := counts.get(ProfileLinkState.PENDING_REVIEW, 0):
        dependents.append(
            ngettext(
                "%(count)d profile link pending review", "%(count)d profile links pending review", pending
            )
            % {"count": pending}
        )
    if live := counts.get(ProfileLinkState.LIVE, 0):
        dependents.append(
            ngettext("%(count)d live profile link", "%(count)d live profile links", live) % {"count": live}
        )
    return dependents
