"""The seam through which the apps above accounts say what hangs on an account and hear of its changes.

accounts/ imports no other app, yet a move or an identity change of an account must know about its
applications, its whitelist entry and its profile links, and must forget its cached profile. The apps
that own those register here in their `AppConfig.ready()`.
"""

from collections.abc import Callable, Sequence

from .models import OfficialAccount

# A check names, in the staff's words, each thing that hangs on the account; empty when nothing does.
AccountDependentsCheck = Callable[[OfficialAccount], list[str]]
# Called inside the transaction that changed these accounts, with the (platform, uid) they had before.
AccountsChangedCallback = Callable[[Sequence[int], Sequence[tuple[str, str]]], None]

_dependents_checks: list[AccountDependentsCheck] = []
_changed_callbacks: list[AccountsChangedCallback] = []


def register_account_dependents_check(check: AccountDependentsCheck) -> None:
    if check not in _dependents_checks:
        _dependents_checks.append(check)


def register_accounts_changed_callback(callback: AccountsChangedCallback) -> None:
    if callback not in _changed_callbacks:
        _changed_callbacks.append(callback)


def account_dependents(account: OfficialAccount) -> list[str]:
    """What hangs on the account (an open application, an entry in force, a live link...)."""
    return [dependent for check in _dependents_checks for dependent in check(account)]


def accounts_changed(
    *, account_ids: Sequence[int], previous_identities: Sequence[tuple[str, str]] = ()
) -> None:
    """Tell the registered apps that these accounts changed (their owner, identity or facts)."""
    for callback in _changed_callbacks:
        callback(account_ids, previous_identities)
