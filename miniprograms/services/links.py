"""Writes of profile links: request, approve, reject, unlink, each move recorded in the link's history."""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OfficialAccount, User
from accounts.profile_cache import profile_forget_accounts
from portal.errors import Conflict, InvalidInput
from portal.transitions import invalid_transition, state_move
from whitelist.selectors import policy_active

from ..models import OPEN_LINK_STATES, MiniProgram, ProfileLink, ProfileLinkState
from ..permissions import ensure_can_decide_links, ensure_can_manage_miniprogram, ensure_can_unlink
from .link_history import link_event_record
from .preconditions import ensure_account_whitelisted, ensure_miniprogram_active


@transaction.atomic
def profile_link_request(*, actor: User, miniprogram: MiniProgram, account: OfficialAccount) -> ProfileLink:
    """Ask staff to put an active mini program on a whitelisted account of the same organization."""
    ensure_can_manage_miniprogram(user=actor, miniprogram=miniprogram)
    if account.organization_id != miniprogram.organization_id:
        raise InvalidInput({"account": [_("The account must belong to the mini program's organization.")]})
    # In the lock order (services/__init__.py): the mini program, then the account.
    miniprogram = MiniProgram.objects.select_for_update().get(pk=miniprogram.pk)
    ensure_miniprogram_active(miniprogram, _("link"))
    account = OfficialAccount.objects.select_for_update().get(pk=account.pk)
    ensure_account_whitelisted(account)
    open_link = ProfileLink.objects.filter(
        miniprogram=miniprogram, account=account, state__in=OPEN_LINK_STATES
    ).first()
    if open_link is not None:
        raise Conflict(
            _("This mini program already has a link to this account (#%(id)d, %(state)s).")
            % {"id": open_link.pk, "state": ProfileLinkState(open_link.state).label}
        )
    last = ProfileLink.objects.filter(account=account, state__in=OPEN_LINK_STATES).aggregate(
        last=Max("position")
    )["last"]
    link = ProfileLink(
        miniprogram=miniprogram,
        account=account,
        state=ProfileLinkState.PENDING_REVIEW,
        position=(last or 0) + 1,
        requested_by=actor,
    )
    try:
        with transaction.atomic():
            link.save()
    except IntegrityError as exc:
        raise Conflict(_("This mini program already has a link to this account.")) from exc
    link_event_record(link, actor=actor, from_state="")
    return link


def _refused(link: ProfileLink, action: str) -> Conflict:
    return invalid_transition(
        _("Cannot %(action)s a link that is %(state)s.")
        % {"action": action, "state": ProfileLinkState(link.state).label}
    )


def _move(
    link: ProfileLink,
    *,
    allowed_from: tuple[str, ...],
    to: str,
    actor: User,
    action: str,
    reason: str = "",
    decision: bool = False,
) -> ProfileLink:
    """Move the locked link, record the event and forget the account's profile."""
    now = timezone.now()
    changes: dict[str, Any] = {"state": to, "updated_at": now}
    if decision:
        changes.update(reason=reason, decided_by=actor, decided_at=now)
    from_state = state_move(
        link, allowed_from=allowed_from, changes=changes, refused=lambda: _refused(link, action)
    )
    link_event_record(link, actor=actor, from_state=from_state, reason=reason)
    profile_forget_accounts([link.account_id])
    return link


@transaction.atomic
def profile_link_approve(*, actor: User, link: ProfileLink, reason: str = "") -> ProfileLink:
    """Staff put a pending link live, within the active policy's limit of live links per account."""
    ensure_can_decide_links(user=actor)
    # In the lock order: the mini program (as delisting takes it), then the account, whose lock makes
    # approvals on one account take turns so the limit holds, then the link alone.
    miniprogram = MiniProgram.objects.select_for_update().get(pk=link.miniprogram_id)
    account = OfficialAccount.objects.select_for_update().get(pk=link.account_id)
    link = ProfileLink.objects.select_for_update(of=("self",)).get(pk=link.pk)
    if link.state != ProfileLinkState.PENDING_REVIEW:
        raise _refused(link, _("approve"))
    ensure_miniprogram_active(miniprogram, _("link"))
    ensure_account_whitelisted(account)
    limit = policy_active().max_live_links_per_account
    live = ProfileLink.objects.filter(account=account, state=ProfileLinkState.LIVE).count()
    if live >= limit:
        raise Conflict(
            _("%(account)s already shows %(count)d mini programs, the most allowed.")
            % {"account": account.screen_name, "count": live},
            code="live-links-limit",
        )
    return _move(
        link,
        allowed_from=(ProfileLinkState.PENDING_REVIEW,),
        to=ProfileLinkState.LIVE,
        actor=actor,
        action=_("approve"),
        reason=(reason or "").strip(),
        decision=True,
    )


@transaction.atomic
def profile_link_reject(*, actor: User, link: ProfileLink, reason: str) -> ProfileLink:
    """Staff refuse a pending link; the reason is kept and shown to the organization."""
    ensure_can_decide_links(user=actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput({"reason": [_("Give the reason; the organization is told.")]})
    link = ProfileLink.objects.select_for_update().get(pk=link.pk)
    return _move(
        link,
        allowed_from=(ProfileLinkState.PENDING_REVIEW,),
        to=ProfileLinkState.REJECTED,
        actor=actor,
        action=_("reject"),
        reason=reason,
        decision=True,
    )


@transaction.atomic
def profile_link_unlink(*, actor: User, link: ProfileLink, reason: str = "") -> ProfileLink:
    """Take a live link off the profile, or withdraw a pending one: the organization's owners and admins,
    or staff."""
    ensure_can_unlink(user=actor, link=link)
    link = ProfileLink.objects.select_for_update().get(pk=link.pk)
    return _move(
        link,
        allowed_from=OPEN_LINK_STATES,
        to=ProfileLinkState.UNLINKED,
        actor=actor,
        action=_("unlink"),
        reason=(reason or "").strip(),
    )
