"""The seam through which the apps above accounts say what hangs on an account.

accounts/ imports no other app, yet a move or an identity change of an account must know about its
applications, its whitelist entry and its profile links. The apps that own those register a check here
in their `AppConfig.ready()`. (Forgetting the account's cached profile needs no hook: the cache's keys
and its forget live in accounts/profile_cache.py.)
"""

from collections.abc import Callable

from .models import OfficialAccount

# A check names, in the staff's words, each thing that hangs on the account; empty when nothing does.
AccountDependentsCheck = Callable[[OfficialAccount], list[str]]

_dependents_checks: list[AccountDependentsCheck] = []


def register_account_dependents_check(check: AccountDependentsCheck) -> None:
    if check not in _dependents_checks:
        _dependents_checks.append(check)


def account_dependents(account: OfficialAccount) -> list[str]:
    """What hangs on the account (an open application, an entry in force, a live link...)."""
    return [dependent for check in _dependents_checks for dependent in check(account)]
