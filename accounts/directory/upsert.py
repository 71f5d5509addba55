"""The directory upsert: batches of rows written as official accounts, and the streaming import."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from django.core.exceptions import NON_FIELD_ERRORS
from django.db import DataError, IntegrityError, models, transaction
from django.db.models import ExpressionWrapper, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import OfficialAccount, Organization, OrganizationSource, VerificationStatus, Vertical
from .conflicts import (
    Holder,
    OrganizationBook,
    Ownership,
    conflicts_record,
    holder_matches,
    owner_errors_of_existing,
    ownership_conflict_errors,
    row_names_owner,
)
from .reading import DirectoryFileError, DirectoryRow
from .results import AccountKey, ImportSummary, Outcome, RowResult
from .rows import ParsedRow, row_parse

# The fields an import may change on an existing account; the organization is not among them.
_ACCOUNT_IMPORTED_FIELDS = (
    "screen_name",
    "kind",
    "vertical_id",
    "followers_count",
    "verification_status",
    "verified_at",
)


def _accounts_existing(
    keys: Iterable[AccountKey],
) -> tuple[dict[AccountKey, OfficialAccount], dict[AccountKey, Holder]]:
    """The accounts of these keys, and the facts of the organization holding each."""
    uids_by_platform: dict[str, list[str]] = {}
    for platform, uid in keys:
        uids_by_platform.setdefault(platform, []).append(uid)
    if not uids_by_platform:
        return {}, {}
    condition = Q()
    for platform, uids in uids_by_platform.items():
        condition |= Q(platform=platform, platform_uid__in=uids)
    # The holder's facts as three columns of the same query: no Organization built per account.
    accounts = (
        OfficialAccount.objects.filter(condition)
        .annotate(
            holder_name=F("organization__name"),
            holder_credit_code=F("organization__unified_social_credit_code"),
            holder_trusted=ExpressionWrapper(
                Q(organization__source=OrganizationSource.DIRECTORY)
                | Q(organization__identity_verified_at__isnull=False),
                output_field=models.BooleanField(),
            ),
        )
        .order_by()
    )
    existing: dict[AccountKey, OfficialAccount] = {}
    holders: dict[AccountKey, Holder] = {}
    for account in accounts:
        key = (account.platform, account.platform_uid)
        existing[key] = account
        holders[key] = Holder(account.holder_name, account.holder_credit_code, account.holder_trusted)
    return existing, holders


def _account_apply(account: OfficialAccount, row: ParsedRow, *, now: datetime) -> None:
    assert row.vertical_id is not None and not row.errors, "only rows without errors are applied"
    account.screen_name = row.screen_name
    account.kind = row.kind
    account.vertical_id = row.vertical_id
    account.followers_count = row.followers_count
    if row.verification_status:
        # verified_at is the moment of the verification: it stays while the account stays verified.
        if row.verification_status != VerificationStatus.VERIFIED:
            account.verified_at = None
        elif account.verification_status != VerificationStatus.VERIFIED or account.verified_at is None:
            account.verified_at = now
        account.verification_status = row.verification_status


def _account_snapshot(account: OfficialAccount) -> tuple[object, ...]:
    return tuple(getattr(account, name) for name in _ACCOUNT_IMPORTED_FIELDS)


def _rows_write(rows: Sequence[ParsedRow]) -> list[RowResult]:
    """Apply parsed rows in order, as if one by one, in a few statements for them all.

    A row that names an owner (credit code or organization name) changes an existing account only when
    the organization holding it is that owner and one the directory trusts; any other such row is an
    ownership conflict: rejected, stored for staff, and the account left as it was.
    """
    now = timezone.now()
    existing, holders = _accounts_existing({row.key for row in rows if row.key is not None})
    before = {key: _account_snapshot(account) for key, account in existing.items()}
    accounts: dict[AccountKey, OfficialAccount] = dict(existing)
    organizations = OrganizationBook(
        row
        for row in rows
        if row.key is not None and row.key not in existing and not row.errors and not row.organization_errors
    )
    created: list[OfficialAccount] = []
    conflicts: list[tuple[ParsedRow, OfficialAccount]] = []
    decisions: list[tuple[int, Outcome, AccountKey | None, dict[str, list[str]]]] = []
    for row in rows:
        if row.key is None:
            decisions.append((row.line, "rejected", None, row.errors))
            continue
        account = accounts.get(row.key)
        if account is not None:
            owner_errors = owner_errors_of_existing(row)
            if row.errors or owner_errors:
                decisions.append((row.line, "rejected", None, {**row.errors, **owner_errors}))
            elif row_names_owner(row) and not holder_matches(row, holders[row.key]):
                conflicts.append((row, account))
                decisions.append(
                    (row.line, "rejected", None, ownership_conflict_errors(row, holders[row.key]))
                )
            else:
                _account_apply(account, row, now=now)
                decisions.append((row.line, "updated", row.key, {}))
            continue
        errors = {**row.errors, **row.organization_errors}
        ownership = Ownership() if errors else organizations.resolve(row)
        errors.update(ownership.errors)
        if errors:
            decisions.append((row.line, "rejected", None, errors))
            continue
        account = OfficialAccount(
            organization=ownership.organization,
            platform=row.key[0],
            platform_uid=row.key[1],
            verification_status=VerificationStatus.UNVERIFIED,
        )
        _account_apply(account, row, now=now)
        accounts[row.key] = account
        # A later row of the batch for this uid is checked against this new holder.
        holders[row.key] = Holder.of(ownership.organization)  # type: ignore[arg-type]
        created.append(account)
        decisions.append((row.line, "created", row.key, {}))

    changed = [account for key, account in existing.items() if _account_snapshot(account) != before[key]]
    for account in changed:
        account.updated_at = now
    if organizations.new:
        Organization.objects.bulk_create(organizations.new)
    if created:
        OfficialAccount.objects.bulk_create(created)
    if changed:
        # These rows exist, so the upsert's conflict clause updates each in place, in one
        # statement: 15 times faster than bulk_update, whose CASE per row and field costs
        # about a second per thousand rows.
        OfficialAccount.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["platform", "platform_uid"],
            update_fields=[*_ACCOUNT_IMPORTED_FIELDS, "updated_at"],
        )
    if conflicts:
        conflicts_record(conflicts)
    return [
        RowResult(
            line=line,
            outcome=outcome,
            account_id=accounts[key].pk if key is not None else None,
            errors=errors,
        )
        for line, outcome, key, errors in decisions
    ]


def _vertical_ids() -> dict[str, int]:
    return dict(Vertical.objects.values_list("code", "id"))


def official_accounts_upsert(
    *, rows: Sequence[Mapping[str, str]], lines: Sequence[int] | None = None
) -> list[RowResult]:
    """Create or update the official accounts of one batch of rows, keyed by (platform, platform_uid).

    Rows are column → text mappings (see REQUIRED_COLUMNS and OPTIONAL_COLUMNS); `lines` numbers
    them in the results (default 1, 2, 3...). Each row is applied whole or rejected whole, as if the
    rows were applied one after another: a uid repeated in the batch is created by its first valid
    row and updated by the later ones, so the last row wins. The batch is written in one
    transaction; if the database refuses it (a uid inserted by someone else meanwhile), it is
    written again row by row, each row in its own savepoint, so only the rows still refused fail.
    """
    if lines is None:
        lines = range(1, len(rows) + 1)
    if len(lines) != len(rows):
        raise ValueError("lines must number every row")
    vertical_ids = _vertical_ids()
    parsed = [
        row_parse(values, line=line, vertical_ids=vertical_ids)
        for values, line in zip(rows, lines, strict=True)
    ]
    try:
        with transaction.atomic():
            return _rows_write(parsed)
    except (IntegrityError, DataError):
        pass
    results: list[RowResult] = []
    with transaction.atomic():
        for row in parsed:
            try:
                with transaction.atomic():
                    results.extend(_rows_write([row]))
            except (IntegrityError, DataError) as exc:
                refusal = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                results.append(
                    RowResult(
                        line=row.line,
                        outcome="rejected",
                        errors={
                            NON_FIELD_ERRORS: [
                                _("The database refused this row: %(error)s") % {"error": refusal}
                            ]
                        },
                    )
                )
    return results


def directory_import(
    *,
    rows: Iterable[DirectoryRow],
    batch_size: int = 1000,
    on_batch: Callable[[ImportSummary], None] | None = None,
    on_reject: Callable[[RowResult, Mapping[str, str]], None] | None = None,
    rejections_kept: int = 200,
) -> ImportSummary:
    """Stream rows into official_accounts_upsert a batch at a time; memory holds one batch.

    `on_batch` sees the running summary after each batch is committed; `on_reject` sees every
    rejected row with its values, while the summary keeps only the first `rejections_kept`.
    A DirectoryFileError from `rows` (the file turns unreadable) is raised after the rows read
    before it are written, carrying the summary of what was imported.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    summary = ImportSummary()
    batch: list[DirectoryRow] = []

    def flush() -> None:
        if not batch:
            return
        readable = [row for row in batch if not row.error]
        upserted = iter(
            official_accounts_upsert(
                rows=[row.values for row in readable], lines=[row.line for row in readable]
            )
        )
        for row in batch:
            result = (
                RowResult(line=row.line, outcome="rejected", errors={NON_FIELD_ERRORS: [row.error]})
                if row.error
                else next(upserted)
            )
            summary.rows += 1
            if result.outcome == "created":
                summary.created += 1
            elif result.outcome == "updated":
                summary.updated += 1
            else:
                summary.rejected += 1
                if len(summary.first_rejections) < rejections_kept:
                    summary.first_rejections.append(result)
                if on_reject is not None:
                    on_reject(result, row.values)
        batch.clear()
        if on_batch is not None:
            on_batch(summary)

    try:
        for row in rows:
            batch.append(row)
            if len(batch) >= batch_size:
                flush()
    except DirectoryFileError as exc:
        flush()
        exc.summary = summary
        raise
    flush()
    return summary
