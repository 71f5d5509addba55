"""The --clean of `manage.py seed_scale`: deletes the seed's rows and what hangs off them, nothing else."""

import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.models import ProtectedError
from psycopg import sql

from accounts.models import Membership, OfficialAccount, Organization, User
from demo.scale.copying import analyze, column_name, table_identifier
from demo.scale.plan import ORGANIZATION_PREFIX, SEED_USERNAME, UID_PREFIX
from miniprograms.models import (
    MiniProgram,
    ProfileLink,
    ProfileLinkEvent,
    Share,
    ShareQuota,
    ShareWindowUsage,
)
from whitelist.models import (
    ApplicationAttachment,
    Evaluation,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
)

# What --clean deletes, in foreign key order. Each entry: the table, and the path from its rows to
# the seeded account (or organization) they hang off, as (foreign key column, table it points to) steps.
ForeignKeyPath = tuple[tuple[str, type[models.Model]], ...]
CLEAN_BY_ACCOUNT: tuple[tuple[type[models.Model], ForeignKeyPath], ...] = (
    (Share, (("account_id", OfficialAccount),)),
    (Share, (("link_id", ProfileLink), ("account_id", OfficialAccount))),
    (ProfileLinkEvent, (("link_id", ProfileLink), ("account_id", OfficialAccount))),
    (ProfileLink, (("account_id", OfficialAccount),)),
    (ShareQuota, (("account_id", OfficialAccount),)),
    (ShareWindowUsage, (("account_id", OfficialAccount),)),
    (WhitelistEntryEvent, (("entry_id", WhitelistEntry), ("account_id", OfficialAccount))),
    (WhitelistEntry, (("account_id", OfficialAccount),)),
    (ReviewEvent, (("application_id", WhitelistApplication), ("account_id", OfficialAccount))),
    (Evaluation, (("application_id", WhitelistApplication), ("account_id", OfficialAccount))),
    (ApplicationAttachment, (("application_id", WhitelistApplication), ("account_id", OfficialAccount))),
    (WhitelistApplication, (("account_id", OfficialAccount),)),
    (OfficialAccount, (("id", OfficialAccount),)),
)
CLEAN_BY_ORGANIZATION: tuple[tuple[type[models.Model], ForeignKeyPath], ...] = (
    (Share, (("miniprogram_id", MiniProgram), ("organization_id", Organization))),
    (
        ProfileLinkEvent,
        (("link_id", ProfileLink), ("miniprogram_id", MiniProgram), ("organization_id", Organization)),
    ),
    (ProfileLink, (("miniprogram_id", MiniProgram), ("organization_id", Organization))),
    (MiniProgram, (("organization_id", Organization),)),
    (Membership, (("organization_id", Organization),)),
    (Organization, (("id", Organization),)),
)


class Progress(Protocol):
    def __call__(self, line: str, *, final: bool = False) -> None: ...


def seed_delete(
    *, batch_size: int, progress: Progress, warn: Callable[[str], None]
) -> Counter[type[models.Model]]:
    """Delete the seed's accounts, then its organizations, an id range a transaction; the rows per table."""
    deleted: Counter[type[models.Model]] = Counter()
    # Fresh statistics first: the deletes and their foreign key checks are planned on them, and on a
    # table last analyzed empty they would scan whole indexes per row (autovacuum may be off).
    analyze([model for model, _path in (*CLEAN_BY_ACCOUNT, *CLEAN_BY_ORGANIZATION)])
    for root, prefix, steps in (
        (OfficialAccount, UID_PREFIX, CLEAN_BY_ACCOUNT),
        (Organization, ORGANIZATION_PREFIX, CLEAN_BY_ORGANIZATION),
    ):
        _delete_rows(
            root=root, prefix=prefix, steps=steps, batch_size=batch_size, deleted=deleted, progress=progress
        )
    try:
        with transaction.atomic():
            users, _by_model = User.objects.filter(username=SEED_USERNAME).delete()
    except (ProtectedError, IntegrityError):
        users = 0
        warn(f"Kept the user {SEED_USERNAME!r}: rows that the seed did not create name it.")
    deleted[User] += users
    return +deleted  # only the tables that lost rows


def _delete_rows(
    *,
    root: type[models.Model],
    prefix: str,
    steps: tuple[tuple[type[models.Model], ForeignKeyPath], ...],
    batch_size: int,
    deleted: Counter[type[models.Model]],
    progress: Progress,
) -> None:
    """Delete the seeded roots and what hangs off them, an id range per transaction."""
    marker = column_name(root, "platform_uid" if root is OfficialAccount else "name")
    pattern = prefix + "%"
    with connection.connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*), min(id), max(id) FROM {} WHERE {} LIKE %s").format(
                table_identifier(root), sql.Identifier(marker)
            ),
            [pattern],
        )
        total, lowest, highest = cursor.fetchone()
    if not total:
        return
    roots = sql.SQL("SELECT id FROM {} WHERE id BETWEEN %(low)s AND %(high)s AND {} LIKE %(pattern)s").format(
        table_identifier(root), sql.Identifier(marker)
    )
    statements = [(model, _delete_statement(model, path, roots)) for model, path in steps]
    started = time.monotonic()
    done = 0
    for low in range(lowest, highest + 1, batch_size):
        params = {"low": low, "high": min(highest, low + batch_size - 1), "pattern": pattern}
        try:
            with transaction.atomic(), connection.connection.cursor() as cursor:
                for model, statement in statements:
                    cursor.execute(statement, params)
                    deleted[model] += cursor.rowcount
                    if model is root:
                        done += cursor.rowcount
        except DatabaseError as exc:
            raise CommandError(
                f"Could not delete the seeded {root._meta.verbose_name_plural} with ids {params['low']} "
                f"to {params['high']}: rows the seed did not create point to them ({exc}). "
                "The batches before were deleted."
            ) from exc
        elapsed = time.monotonic() - started
        progress(
            f"{done:,}/{total:,} {root._meta.verbose_name_plural} deleted ({100 * done / total:.1f}%), "
            f"{sum(deleted.values()):,} rows in all, {done / elapsed if elapsed else 0:,.0f}/s"
        )
    progress(f"Deleted {done:,} seeded {root._meta.verbose_name_plural}.", final=True)


def _delete_statement(
    model: type[models.Model], path: ForeignKeyPath, roots: sql.Composable
) -> sql.Composable:
    """DELETE FROM model WHERE its path of foreign keys leads to one of the roots."""
    condition = roots
    # From the root back towards the model: each step selects the ids of the table one step nearer.
    for index in range(len(path) - 1, 0, -1):
        column, table = path[index][0], path[index - 1][1]
        condition = sql.SQL("SELECT id FROM {} WHERE {} IN ({})").format(
            table_identifier(table), sql.Identifier(column), condition
        )
    first_column = path[0][0]
    return sql.SQL("DELETE FROM {} WHERE {} IN ({})").format(
        table_identifier(model), sql.Identifier(first_column), condition
    )
