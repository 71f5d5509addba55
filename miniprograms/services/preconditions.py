"""The states a write needs before it may go on: an active mini program, a whitelisted account."""

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OfficialAccount
from portal.errors import Conflict
from portal.transitions import invalid_transition
from whitelist.models import EntryState, WhitelistEntry

from ..models import MiniProgram, MiniProgramState


def ensure_miniprogram_active(miniprogram: MiniProgram, action: str) -> None:
    """A delisted mini program cannot be changed, linked or delisted again: a 409 naming the action."""
    if miniprogram.state != MiniProgramState.ACTIVE:
        raise invalid_transition(
            _("Cannot %(action)s a mini program that is %(state)s.")
            % {"action": action, "state": MiniProgramState(miniprogram.state).label}
        )


def ensure_account_whitelisted(
    account: OfficialAccount, *, entries: QuerySet[WhitelistEntry] | None = None
) -> WhitelistEntry:
    """The account's whitelist entry, which must be in force; else say why not.

    `entries` is the queryset to read it from, for a caller that needs more in the same query.
    """
    entries = WhitelistEntry.objects.all() if entries is None else entries
    entry = entries.filter(account=account).first()
    if entry is None:
        raise Conflict(
            _("%(account)s is not whitelisted; apply for the whitelist first.")
            % {"account": account.screen_name},
            code="not-whitelisted",
        )
    if entry.is_in_force():
        return entry
    if entry.state != EntryState.ACTIVE:
        raise Conflict(
            _("The whitelist entry of %(account)s is %(state)s.")
            % {"account": account.screen_name, "state": EntryState(entry.state).label},
            code="not-whitelisted",
        )
    raise Conflict(
        _("The whitelist entry of %(account)s expired on %(date)s.")
        % {"account": account.screen_name, "date": timezone.localdate(entry.valid_until).isoformat()},
        code="not-whitelisted",
    )
