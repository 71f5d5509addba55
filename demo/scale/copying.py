"""How the scale seed's rows reach PostgreSQL: COPY in batches, ids drawn ahead, and fresh statistics."""

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models
from psycopg import sql

from accounts.models import OfficialAccount, Organization
from miniprograms.models import MiniProgram, ProfileLink, ProfileLinkEvent, Share, ShareQuota
from whitelist.models import (
    Evaluation,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
)

# Tables in the order the rows are written: each row's foreign keys point to rows written before.
WRITE_ORDER: tuple[type[models.Model], ...] = (
    Organization,
    OfficialAccount,
    WhitelistApplication,
    Evaluation,
    ReviewEvent,
    WhitelistEntry,
    WhitelistEntryEvent,
    MiniProgram,
    ProfileLink,
    ProfileLinkEvent,
    ShareQuota,
    Share,
)
# The seed's tables that its other rows point to: their foreign key checks must find rows by primary key.
REFERENCED = (
    Organization,
    OfficialAccount,
    WhitelistApplication,
    Evaluation,
    WhitelistEntry,
    MiniProgram,
    ProfileLink,
)
# The fields each COPY writes, in row order; the database numbers the models whose fields lack "id".
COLUMNS: dict[type[models.Model], tuple[str, ...]] = {
    Organization: ("id", "name", "kind", "unified_social_credit_code", "created_at"),
    OfficialAccount: (
        "id",
        "organization",
        "platform",
        "platform_uid",
        "screen_name",
        "kind",
        "vertical",
        "followers_count",
        "verification_status",
        "verified_at",
        "created_at",
        "updated_at",
    ),
    WhitelistApplication: (
        "id",
        "account",
        "organization",
        "created_by",
        "state",
        "has_in_house_team",
        "dev_team_size",
        "self_developed_products",
        "services",
        "support_channels",
        "after_sales_policy",
        "description",
        "submitted_at",
        "decided_at",
        "created_at",
        "updated_at",
    ),
    Evaluation: ("id", "application", "policy", "results", "recommendation", "created_at"),
    ReviewEvent: (
        "application",
        "actor",
        "from_state",
        "to_state",
        "message",
        "visible_to_applicant",
        "evaluation",
        "created_at",
        "notified_at",
    ),
    WhitelistEntry: (
        "id",
        "account",
        "state",
        "share_limit_per_hour",
        "valid_from",
        "valid_until",
        "application",
        "created_at",
        "updated_at",
    ),
    WhitelistEntryEvent: (
        "entry",
        "actor",
        "action",
        "from_state",
        "to_state",
        "reason",
        "details",
        "created_at",
        "notified_at",
    ),
    MiniProgram: (
        "id",
        "organization",
        "app_id",
        "name",
        "description",
        "icon",
        "category",
        "capabilities",
        "state",
        "created_by",
        "created_at",
        "updated_at",
    ),
    ProfileLink: (
        "id",
        "miniprogram",
        "account",
        "state",
        "position",
        "requested_by",
        "reason",
        "decided_by",
        "decided_at",
        "created_at",
        "updated_at",
    ),
    ProfileLinkEvent: ("link", "actor", "from_state", "to_state", "reason", "created_at"),
    ShareQuota: ("account", "window_start", "used"),
    Share: (
        "account",
        "miniprogram",
        "link",
        "created_by",
        "window_start",
        "slot",
        "limit",
        "idempotency_key",
        "request_fingerprint",
        "created_at",
    ),
}


def table_identifier(model: type[models.Model]) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def column_name(model: type[models.Model], name: str) -> str:
    model_field = model._meta.get_field(name)
    if not isinstance(model_field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return str(model_field.column)


def copy_statement(model: type[models.Model]) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(column_name(model, name)) for name in COLUMNS[model])
    return sql.SQL("COPY {} ({}) FROM STDIN").format(table_identifier(model), columns)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class Batch:
    rows: dict[type[models.Model], list[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(list))
    accounts: int = 0

    def add(self, model: type[models.Model], row: tuple[Any, ...]) -> None:
        self.rows[model].append(row)


class IdPool:
    """Ids taken from a table's own sequence in blocks, so rows can point to each other before COPY."""

    def __init__(self, pg_connection: Any, model: type[models.Model], *, block: int) -> None:
        self.pg_connection = pg_connection
        self.block = block
        self.statement = sql.SQL(
            "SELECT nextval(pg_get_serial_sequence({}, 'id')) FROM generate_series(1, %s)"
        ).format(sql.Literal(model._meta.db_table))
        self.ids: list[int] = []

    def take(self) -> int:
        if not self.ids:
            with self.pg_connection.cursor() as cursor:
                cursor.execute(self.statement, [self.block])
                self.ids = [row[0] for row in cursor.fetchall()]
                self.ids.reverse()
        return self.ids.pop()


def analyze(models_: Sequence[type[models.Model]], *, vacuum: bool = False) -> str:
    """ANALYZE the tables; with vacuum, VACUUM (ANALYZE) them where no transaction is open.

    Autovacuum may be off (it is on the project's 2-core machine): VACUUM marks the loaded pages
    all-visible, as on a database that runs autovacuum, and frees what --clean deleted.
    """
    command = "VACUUM (ANALYZE) {}" if vacuum and not connection.in_atomic_block else "ANALYZE {}"
    with connection.connection.cursor() as cursor:
        for model in dict.fromkeys(models_):
            cursor.execute(sql.SQL(command).format(table_identifier(model)))
    return command.removesuffix(" {}")


def analyze_grown(written: Counter[type[models.Model]], analyzed: dict[type[models.Model], int]) -> None:
    """ANALYZE, before the batch commits, each referenced table whose seeded rows doubled.

    The deferred foreign key checks run at COMMIT with plans cached for the session. Planned on
    the statistics of an empty table, the check of an account id scans the whole
    (organization, -id) index instead of the primary key, and the seed turns quadratic;
    fresh statistics make PostgreSQL plan them again. ANALYZE counts this transaction's rows.
    """
    grown = [model for model in REFERENCED if written[model] >= 2 * analyzed.get(model, 0) > 0]
    grown += [model for model in REFERENCED if written[model] and model not in analyzed]
    analyze(grown)
    for model in grown:
        analyzed[model] = written[model]
