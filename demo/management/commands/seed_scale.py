"""`manage.py seed_scale`: the programme's 1.67 million accounts in PostgreSQL for benchmarks, and --clean."""

import random
import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import OfficialAccount, Organization, User, Vertical
from demo.scale.cleaning import CLEAN_BY_ACCOUNT, CLEAN_BY_ORGANIZATION, seed_delete
from demo.scale.copying import COLUMNS, WRITE_ORDER, IdPool, analyze, analyze_grown, copy_statement
from demo.scale.directory import ScaleDirectory
from demo.scale.plan import (
    ORGANIZATION_PREFIX,
    PROGRAMME_ACCOUNTS,
    QUOTA_ROWS_CHOICES,
    SEED_USERNAME,
    UID_PREFIX,
    VERTICAL_CODES,
    ScalePlan,
)
from whitelist.models import CriteriaPolicy
from whitelist.selectors import policy_active
from whitelist.services import rules_of

# What the tests and the benchmarks import from here.
__all__ = [
    "CLEAN_BY_ACCOUNT",
    "CLEAN_BY_ORGANIZATION",
    "ORGANIZATION_PREFIX",
    "SEED_USERNAME",
    "UID_PREFIX",
    "VERTICAL_CODES",
    "Command",
]


class Command(BaseCommand):
    help = (
        "Fill PostgreSQL with a directory at the programme's scale for benchmarks: organizations, "
        "official accounts (10.2% government, the rest enterprise and a few media, over the nine "
        "verticals, heavy-tailed followers, mostly verified), approved applications with evaluations and "
        "active whitelist entries for a fraction, mini programs live on some of their profiles, shares in "
        "the last closed and the current hour, and share quotas. Rows are written with COPY, a batch per "
        "transaction. The seed's accounts have platform uids starting with "
        f"{UID_PREFIX!r}, its organizations' names start with {ORGANIZATION_PREFIX!r}, and its one user "
        f"{SEED_USERNAME!r} (who cannot sign in) is their author; --clean deletes them and every row that "
        "hangs off them, and nothing else. A second run refuses while a seed is present: run --clean "
        "first. PostgreSQL only; the tables are analyzed (and vacuumed) at the end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--accounts",
            type=int,
            default=PROGRAMME_ACCOUNTS,
            help=f"official accounts to create (default {PROGRAMME_ACCOUNTS:,}, the programme's size)",
        )
        parser.add_argument(
            "--whitelisted-fraction",
            type=float,
            default=0.05,
            help="share of the accounts with an approved application and an active entry (default 0.05)",
        )
        parser.add_argument(
            "--shared-fraction",
            type=float,
            default=0.01,
            help=(
                "share of all accounts that shared in the last closed hour, the hourly reset's work "
                "(default 0.01; at most --whitelisted-fraction); half as many again shared this hour"
            ),
        )
        parser.add_argument(
            "--quota-rows",
            choices=QUOTA_ROWS_CHOICES,
            default="all",
            help=(
                "'all' (default): a share quota row for every account, idle since an earlier hour unless it "
                "shared, so the hourly reset runs at full size; 'linked': only for accounts with mini "
                "programs on their profile, as the portal itself would have them"
            ),
        )
        parser.add_argument("--seed", type=int, help="random seed; the same seed gives the same directory")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=20_000,
            help="accounts per COPY batch and transaction; with --clean, ids per transaction (default 20000)",
        )
        parser.add_argument("--clean", action="store_true", help="delete what a seed created, and only that")

    def handle(
        self,
        *args: Any,
        accounts: int,
        whitelisted_fraction: float,
        shared_fraction: float,
        quota_rows: str,
        seed: int | None,
        batch_size: int,
        clean: bool,
        **options: Any,
    ) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                f"seed_scale needs PostgreSQL (it writes with COPY), and DATABASE_URL points at "
                f"{connection.vendor}. Set DATABASE_URL=postgres://... to a scratch database."
            )
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        connection.ensure_connection()
        # Loading and vacuuming millions of rows outlasts the site's DATABASE_STATEMENT_TIMEOUT.
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
        self.quiet = options.get("verbosity", 1) == 0
        if clean:
            self._clean(batch_size=batch_size)
            return
        if accounts < 1:
            raise CommandError("--accounts must be at least 1.")
        for name, value in (
            ("--whitelisted-fraction", whitelisted_fraction),
            ("--shared-fraction", shared_fraction),
        ):
            if not 0 <= value <= 1:
                raise CommandError(f"{name} must be between 0 and 1.")
        plan = ScalePlan.of(
            accounts=accounts, whitelisted_fraction=whitelisted_fraction, shared_fraction=shared_fraction
        )
        present = OfficialAccount.objects.filter(platform_uid__startswith=UID_PREFIX).count()
        present += Organization.objects.filter(name__startswith=ORGANIZATION_PREFIX).count()
        if present:
            raise CommandError(
                f"A seed is already present ({present:,} accounts and organizations); "
                "run `manage.py seed_scale --clean` first."
            )
        if seed is None:
            seed = random.SystemRandom().randrange(2**32)
        self._seed(plan=plan, seed=seed, batch_size=batch_size, quota_rows=quota_rows)

    def _progress(self, line: str, *, final: bool = False) -> None:
        if self.quiet:
            return
        # On a terminal each line overwrites the last; in a log, one line a batch.
        ending = "\n" if final or not self.stderr.isatty() else "\r"
        self.stderr.write(line, style_func=lambda text: text, ending=ending)

    def _seed(self, *, plan: ScalePlan, seed: int, batch_size: int, quota_rows: str) -> None:
        try:
            policy = policy_active()
        except CriteriaPolicy.DoesNotExist as exc:
            raise CommandError(
                "No active criteria policy; run `manage.py migrate` first (it creates one)."
            ) from exc
        verticals = {vertical.code: vertical for vertical in Vertical.objects.filter(code__in=VERTICAL_CODES)}
        missing = sorted(set(VERTICAL_CODES) - set(verticals))
        if missing:
            raise CommandError(
                f"Verticals {', '.join(missing)} are missing; "
                "run `manage.py migrate` first (it creates them)."
            )
        user = self._seed_user()
        connection.ensure_connection()
        pg_connection = connection.connection
        blocks = {OfficialAccount: batch_size, Organization: max(1_000, batch_size // 4)}
        pools = {model: IdPool(pg_connection, model, block=blocks.get(model, 5_000)) for model in COLUMNS}
        directory = ScaleDirectory(
            plan=plan,
            rng=random.Random(seed),  # noqa: S311 - made-up data, not secrets
            now=timezone.now(),
            verticals=verticals,
            policy=policy,
            rules=rules_of(policy),
            user_id=user.pk,
            next_id=lambda model: pools[model].take(),
            quota_rows=quota_rows,
        )
        self.stdout.write(
            f"Seeding {plan.accounts:,} accounts ({plan.government:,} government), {plan.whitelisted:,} "
            f"whitelisted, {plan.linked:,} with mini programs, {plan.shared_last_hour:,} shared last hour "
            f"and {plan.shared_this_hour:,} this hour; seed {seed}."
        )
        written: Counter[type[models.Model]] = Counter()
        analyzed: dict[type[models.Model], int] = {}
        started = time.monotonic()
        done = 0
        for batch in directory.batches(batch_size=batch_size):
            with transaction.atomic(), pg_connection.cursor() as cursor:
                # Seed data: losing the last batches in a crash costs a re-run, not a lost write.
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
                for model in WRITE_ORDER:
                    rows = batch.rows.get(model)
                    if not rows:
                        continue
                    with cursor.copy(copy_statement(model)) as copy:
                        for row in rows:
                            copy.write_row(row)
                    written[model] += len(rows)
                analyze_grown(written, analyzed)
            done += batch.accounts
            elapsed = time.monotonic() - started
            self._progress(
                f"{done:,}/{plan.accounts:,} accounts ({100 * done / plan.accounts:.1f}%), "
                f"{sum(written.values()):,} rows, {done / elapsed:,.0f} accounts/s, "
                f"{sum(written.values()) / elapsed:,.0f} rows/s, {elapsed:,.0f}s"
            )
        self._progress(
            f"Wrote {sum(written.values()):,} rows in {time.monotonic() - started:,.1f}s.", final=True
        )
        analyze_started = time.monotonic()
        command = analyze(WRITE_ORDER, vacuum=True)
        self.stdout.write(f"{command} took {time.monotonic() - analyze_started:,.1f}s.")
        self._report(written, elapsed=time.monotonic() - started, verb="Created")

    def _seed_user(self) -> User:
        """The one user the seed's rows name as author; it cannot sign in."""
        user = User.objects.filter(username=SEED_USERNAME).first()
        if user is None:
            user = User(username=SEED_USERNAME, is_active=False, first_name="Scale", last_name="seed")
            user.set_unusable_password()
            user.save()
        return user

    def _report(self, counts: Counter[type[models.Model]], *, elapsed: float, verb: str) -> None:
        counts = +counts
        width = max(len(model._meta.db_table) for model in counts) if counts else 0
        for model, count in counts.items():
            self.stdout.write(f"  {model._meta.db_table:<{width}}  {count:>12,}")
        self.stdout.write(self.style.SUCCESS(f"{verb} {sum(counts.values()):,} rows in {elapsed:,.1f}s."))

    def _clean(self, *, batch_size: int) -> None:
        started = time.monotonic()
        deleted = seed_delete(batch_size=batch_size, progress=self._progress, warn=self.stderr.write)
        if not deleted:
            self.stdout.write("No seed present; nothing deleted.")
            return
        analyze_started = time.monotonic()
        command = analyze(list(deleted), vacuum=True)
        self.stdout.write(f"{command} took {time.monotonic() - analyze_started:,.1f}s.")
        self._report(deleted, elapsed=time.monotonic() - started, verb="Deleted")
