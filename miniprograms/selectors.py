"""Reads of mini programs, profile links and shares, scoped to who asks; and of the share quotas."""

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import ngettext

from accounts.models import OfficialAccount, User
from accounts.selectors import organization_ids_of
from whitelist.models import WhitelistEntry

from .models import OPEN_LINK_STATES, MiniProgram, ProfileLink, ProfileLinkState, Share
from .quota import WINDOW, QuotaState, window_start


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


def share_quota_state(*, account: OfficialAccount, now: datetime | None = None) -> QuotaState:
    """The account's quota now; the recorded shares are the truth whatever the backend.

    An account whose whitelist entry is not in force (none, suspended, revoked, expired) has a limit of 0.
    """
    return share_quota_states(account_ids=[account.pk], now=now)[account.pk]


def share_quota_states(*, account_ids: Sequence[int], now: datetime | None = None) -> dict[int, QuotaState]:
    """The quotas of several accounts in two queries, whatever their number (the mini program page)."""
    now = now or timezone.now()
    window = window_start(now)
    ids = list(account_ids)
    limits = dict(
        WhitelistEntry.objects.in_force(now)
        .filter(account_id__in=ids)
        .values_list("account_id", "share_limit_per_hour")
    )
    used = dict(
        Share.objects.filter(account_id__in=ids, window_start=window)
        .order_by()
        .values("account_id")
        .annotate(count=Count("pk"))
        .values_list("account_id", "count")
    )
    states = {}
    for account_id in ids:
        limit, count = limits.get(account_id, 0), used.get(account_id, 0)
        states[account_id] = QuotaState(granted=count < limit, limit=limit, used=count, window_start=window)
    return states


def rate_limit_headers(state: QuotaState) -> dict[str, str]:
    """The IETF RateLimit-Policy and RateLimit fields for a share quota state."""
    return {
        "RateLimit-Policy": f'"share";q={state.limit};w={int(WINDOW.total_seconds())}',
        "RateLimit": f'"share";r={state.remaining};t={state.seconds_until_reset()}',
    }
