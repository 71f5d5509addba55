"""The application's row locks, in the one order every whitelist service takes them.

Row locks, in the one order every service here takes them (and miniprograms/services/, which takes
the account before its links and reads entries without locking them):

    official account → application → whitelist entry;  criteria policy rows on their own.

Every lock is ``select_for_update(of=("self",))``: a joined row (the account's vertical, the entry's
account) is read, never locked. No file is written while a row is locked: an upload is stored first
and its row created after, in a short transaction.
"""

from accounts.models import OfficialAccount

from ..models import WhitelistApplication


def application_locked(application: WhitelistApplication) -> WhitelistApplication:
    """The application's row, locked; its account and vertical are read with it, not locked."""
    return (
        WhitelistApplication.objects.select_for_update(of=("self",))
        .select_related("account", "account__vertical")
        .get(pk=application.pk)
    )


def application_locked_with_account(application: WhitelistApplication) -> WhitelistApplication:
    """Lock the account, then the application (the lock order above): an evaluation that counts reads
    facts that no account edit can change before the transaction ends."""
    list(
        OfficialAccount.objects.select_for_update(of=("self",)).filter(pk=application.account_id).values("pk")
    )
    return application_locked(application)
