"""`manage.py seed_scale`: the programme's 1.67 million accounts in PostgreSQL for benchmarks, and --clean."""

import importlib
import json
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from psycopg import sql

from accounts.models import (
    AccountKind,
    Membership,
    OfficialAccount,
    Organization,
    OrganizationKind,
    Platform,
    User,
    VerificationStatus,
    Vertical,
)
from accounts.validators import CREDIT_CODE_ALPHABET, credit_code_check_character
from miniprograms.models import (
    Capability,
    Category,
    MiniProgram,
    MiniProgramState,
    ProfileLink,
    ProfileLinkEvent,
    ProfileLinkState,
    Share,
    ShareQuota,
    ShareWindowUsage,
)
from miniprograms.quota import WINDOW, window_start
from whitelist.constants import UserService
from whitelist.criteria import Facts, Rules, evaluate
from whitelist.models import (
    ApplicationAttachment,
    ApplicationState,
    CriteriaPolicy,
    EntryState,
    Evaluation,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
)
from whitelist.selectors import policy_active
from whitelist.services import rules_of

# What marks the seed's rows: --clean deletes these and what hangs off them, nothing else.
# Neither prefix holds a LIKE wildcard (% or _).
UID_PREFIX = "scale-"
ORGANIZATION_PREFIX = "[scale-seed] "
SEED_USERNAME = "scale_seed"

# The programme's figures: 170,000 government and 1,500,000 enterprise accounts.
PROGRAMME_ACCOUNTS = 1_670_000
GOVERNMENT_SHARE = 170_000 / PROGRAMME_ACCOUNTS
# Of the organizations that are not government bodies, this share are media houses.
MEDIA_SHARE = 0.005
# Organization sizes are log-normal with a mean of about five accounts (median three, a few hundreds).
ORGANIZATION_SIZE_MU = math.log(5) - 0.5
ORGANIZATION_SIZE_SIGMA = 1.0
ORGANIZATION_SIZE_MAX = 1_000
# Followers are log-normal: median 1,500, one account in six hundred above a million, none above the cap.
FOLLOWERS_MU = math.log(1_500)
FOLLOWERS_SIGMA = 2.2
FOLLOWERS_MAX = 150_000_000
# Whitelisted accounts have at least the policy's minimum audience, Pareto-distributed above it
# (with 100,000 followers at least, one in thirteen has a million).
WHITELISTED_FOLLOWERS_ALPHA = 1.1
VERIFIED_SHARE = 0.86
UNVERIFIED_SHARE = 0.11  # the rest are rejected
# Of the whitelisted accounts, this share show mini programs on their profile (at least the sharers).
LINKED_SHARE = 0.4
# Accounts that shared in the current hour, per account that shared in the last closed hour.
CURRENT_WINDOW_SHARERS = 0.5
# How many mini programs an organization with linked accounts registered, and how often.
MINIPROGRAMS_PER_ORGANIZATION = (1, 2, 3)
MINIPROGRAMS_WEIGHTS = (70, 25, 5)
ACCOUNT_AGE_DAYS = (1, 6 * 365)
WHITELISTED_ACCOUNT_AGE_DAYS = (400, 6 * 365)
# Entries started within the last 300 days: with a year's validity none expires or is warned this month.
ENTRY_AGE_DAYS = (2, 300)
QUOTA_ROWS_CHOICES = ("all", "linked")

VERTICAL_CODES: tuple[str, ...] = tuple(
    code for code, _name in importlib.import_module("accounts.migrations.0002_initial_verticals").VERTICALS
)
VERTICAL_WEIGHTS: dict[str, dict[str, int]] = {
    AccountKind.GOVERNMENT: {
        "government": 80,
        "travel": 6,
        "education": 5,
        "healthcare": 5,
        "media": 2,
        "commerce": 2,
    },
    AccountKind.ENTERPRISE: {
        "commerce": 25,
        "food_beverage": 18,
        "retail": 18,
        "finance": 10,
        "travel": 9,
        "education": 7,
        "healthcare": 7,
        "media": 4,
        "government": 2,
    },
    AccountKind.MEDIA: {"media": 100},
}
# The first two characters of a credit code: registration authority and kind of entity.
CREDIT_CODE_KIND: dict[str, str] = {
    OrganizationKind.GOVERNMENT: "11",
    OrganizationKind.ENTERPRISE: "91",
    OrganizationKind.MEDIA: "12",
}
# Characters 9-10 of the seed's credit codes; real codes rarely carry them, and the rest is a counter.
CREDIT_CODE_MARK = "XY"
# (city, administrative division code of one of its districts)
CITIES = (
    ("北京", "110105"),
    ("上海", "310115"),
    ("广州", "440106"),
    ("深圳", "440305"),
    ("杭州", "330106"),
    ("成都", "510107"),
    ("武汉", "420106"),
    ("南京", "320102"),
    ("西安", "610113"),
    ("重庆", "500103"),
    ("苏州", "320505"),
    ("长沙", "430104"),
    ("天津", "120101"),
    ("郑州", "410105"),
    ("青岛", "370202"),
    ("厦门", "350203"),
)
# (department, the short name its accounts use)
DEPARTMENTS = (
    ("公安局", "公安"),
    ("交通运输局", "交通"),
    ("文化和旅游局", "文旅"),
    ("卫生健康委员会", "健康"),
    ("教育局", "教育"),
    ("市场监督管理局", "市场监管"),
    ("人民政府办公厅", "发布"),
    ("生态环境局", "生态环境"),
    ("人力资源和社会保障局", "人社"),
    ("应急管理局", "应急"),
)
BRANDS = ("金拱", "海岸", "先锋", "远山", "玉石", "枫叶", "星轨", "云杉", "青禾", "鼎盛", "银河", "松鹤")
INDUSTRIES = ("餐饮", "零售", "科技", "金融服务", "旅游", "教育科技", "医疗", "电子商务", "物流", "文化")
ACCOUNT_SUFFIXES = ("官方微博", "服务", "商城", "客服", "会员中心", "资讯", "", "在线")
MEDIA_HOUSES = (("日报社", "日报"), ("晚报社", "晚报"), ("广播电视台", "广电"), ("新闻网", "新闻"))
MINIPROGRAM_NAMES = ("点餐", "会员", "预约", "办事", "商城", "服务", "购票", "查询")
SUPPORT_CHANNELS = ("Hotline 400-{:03d}-{:04d}", "Online service in the mini program")

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


def _table(model: type[models.Model]) -> sql.Identifier:
    return sql.Identifier(model._meta.db_table)


def _column(model: type[models.Model], name: str) -> str:
    model_field = model._meta.get_field(name)
    if not isinstance(model_field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return str(model_field.column)


def _copy_statement(model: type[models.Model]) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(_column(model, name)) for name in COLUMNS[model])
    return sql.SQL("COPY {} ({}) FROM STDIN").format(_table(model), columns)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _base31(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, len(CREDIT_CODE_ALPHABET))
        digits.append(CREDIT_CODE_ALPHABET[digit])
    if number:
        raise ValueError("number too large for the width")
    return "".join(reversed(digits))


def credit_code(*, kind: str, region: str, serial: int) -> str:
    """A valid unified social credit code for the seed's organization number `serial`."""
    first_17 = CREDIT_CODE_KIND[kind] + region + CREDIT_CODE_MARK + _base31(serial, 7)
    return first_17 + credit_code_check_character(first_17)


@dataclass(frozen=True)
class ScalePlan:
    """How many rows of each kind the seed writes; the split is exact, whatever the random draws."""

    accounts: int
    government: int
    whitelisted: int
    linked: int
    shared_last_hour: int
    shared_this_hour: int

    @classmethod
    def of(cls, *, accounts: int, whitelisted_fraction: float, shared_fraction: float) -> "ScalePlan":
        whitelisted = round(accounts * whitelisted_fraction)
        shared = round(accounts * shared_fraction)
        if shared > whitelisted:
            raise CommandError(
                f"--shared-fraction {shared_fraction} asks for {shared:,} sharing accounts but only "
                f"{whitelisted:,} are whitelisted (--whitelisted-fraction {whitelisted_fraction}); "
                "only whitelisted accounts can share. Raise --whitelisted-fraction."
            )
        linked = min(whitelisted, max(round(whitelisted * LINKED_SHARE), shared))
        this_hour = min(round(shared * CURRENT_WINDOW_SHARERS), linked - shared)
        linked = min(whitelisted, max(linked, shared + this_hour))
        return cls(
            accounts=accounts,
            government=round(accounts * GOVERNMENT_SHARE),
            whitelisted=whitelisted,
            linked=linked,
            shared_last_hour=shared,
            shared_this_hour=this_hour,
        )


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


@dataclass(frozen=True)
class LinkedAccount:
    id: int
    valid_from: datetime
    # "last" shared in the last closed hour, "this" in the current hour, "" not in either.
    shared: str


class ScaleDirectory:
    """Generates the seed's rows organization by organization, a batch at a time."""

    def __init__(
        self,
        *,
        plan: ScalePlan,
        rng: random.Random,
        now: datetime,
        verticals: dict[str, Vertical],
        policy: CriteriaPolicy,
        rules: Rules,
        user_id: int,
        next_id: Callable[[type[models.Model]], int],
        quota_rows: str,
    ) -> None:
        self.plan = plan
        self.rng = rng
        self.now = now
        self.verticals = verticals
        self.policy = policy
        self.rules = rules
        self.user_id = user_id
        self.next_id = next_id
        self.quota_rows = quota_rows
        self.this_window = window_start(now)
        self.last_window = self.this_window - WINDOW
        self.validity = timedelta(days=policy.entry_validity_days)
        self.links_per_account = max(1, policy.max_live_links_per_account)
        # Exact counts: each choice is drawn with probability (still wanted) / (still to come).
        self.accounts_left = plan.accounts
        self.government_left = plan.government
        self.whitelisted_left = plan.whitelisted
        self.whitelisted_to_come = plan.whitelisted
        self.linked_left = plan.linked
        self.linked_to_come = plan.linked
        self.last_hour_left = plan.shared_last_hour
        self.this_hour_left = plan.shared_this_hour
        self.organizations = 0
        self.account_serial = 0
        self.miniprogram_serial = 0
        self.vertical_choices = {
            kind: self._choices(weights, whitelisted=False) for kind, weights in VERTICAL_WEIGHTS.items()
        }
        self.whitelisted_vertical_choices = {
            kind: self._choices(weights, whitelisted=True) for kind, weights in VERTICAL_WEIGHTS.items()
        }

    def _choices(self, weights: dict[str, int], *, whitelisted: bool) -> tuple[list[str], list[int]]:
        """Codes and cumulative weights; whitelisted accounts are in the active policy's open verticals."""
        if whitelisted and self.rules.open_verticals:
            weights = {code: weight for code, weight in weights.items() if code in self.rules.open_verticals}
            # A kind none of whose verticals is open (media) is spread evenly over the open ones.
            weights = weights or {code: 1 for code in sorted(self.rules.open_verticals)}
        codes = sorted(weights)
        cumulative, total = [], 0
        for code in codes:
            total += weights[code]
            cumulative.append(total)
        return codes, cumulative

    def batches(self, *, batch_size: int) -> Iterator[Batch]:
        while self.accounts_left:
            batch = Batch()
            while batch.accounts < batch_size and self.accounts_left:
                self._organization(batch)
            yield batch

    def _ago(self, low_days: float, high_days: float) -> datetime:
        return self.now - timedelta(days=self.rng.uniform(low_days, high_days))

    def _organization(self, batch: Batch) -> None:
        rng = self.rng
        kind: str
        if rng.random() * self.accounts_left < self.government_left:
            kind, room = OrganizationKind.GOVERNMENT.value, self.government_left
        else:
            media = rng.random() < MEDIA_SHARE
            kind = (OrganizationKind.MEDIA if media else OrganizationKind.ENTERPRISE).value
            room = self.accounts_left - self.government_left
        size = max(1, round(rng.lognormvariate(ORGANIZATION_SIZE_MU, ORGANIZATION_SIZE_SIGMA)))
        size = min(size, ORGANIZATION_SIZE_MAX, room)
        city, region = rng.choice(CITIES)
        serial = self.organizations
        self.organizations += 1
        stems: tuple[str, ...]
        if kind == OrganizationKind.GOVERNMENT:
            department, short = rng.choice(DEPARTMENTS)
            name, stems = f"{city}市{department}", (f"{city}{short}",)
        elif kind == OrganizationKind.MEDIA:
            house, short = rng.choice(MEDIA_HOUSES)
            name, stems = f"{city}{house}", (f"{city}{short}",)
        else:
            brand = "".join(rng.sample(BRANDS, 2))
            name, stems = f"{city}{brand}{rng.choice(INDUSTRIES)}有限公司", (brand, f"{brand}{city}")
        organization_id = self.next_id(Organization)
        batch.add(
            Organization,
            (
                organization_id,
                f"{ORGANIZATION_PREFIX}{name} {serial:06d}",
                kind,
                credit_code(kind=kind, region=region, serial=serial),
                self._ago(ACCOUNT_AGE_DAYS[1], ACCOUNT_AGE_DAYS[1] + 3 * 365),
            ),
        )
        linked: list[LinkedAccount] = []
        for _ in range(size):
            account = self._account(batch, organization_id=organization_id, kind=kind, stems=stems)
            if account is not None:
                linked.append(account)
        batch.accounts += size
        if linked:
            self._miniprograms(batch, organization_id=organization_id, accounts=linked, stem=stems[0])

    def _account(
        self, batch: Batch, *, organization_id: int, kind: str, stems: Sequence[str]
    ) -> LinkedAccount | None:
        """Write one account (and its whitelisting); return it when it shows mini programs."""
        rng = self.rng
        whitelisted = rng.random() * self.accounts_left < self.whitelisted_left
        self.accounts_left -= 1
        if kind == OrganizationKind.GOVERNMENT:
            self.government_left -= 1
        serial = self.account_serial
        self.account_serial += 1
        if whitelisted:
            self.whitelisted_left -= 1
            codes, cumulative = self.whitelisted_vertical_choices[kind]
            created_at = self._ago(*WHITELISTED_ACCOUNT_AGE_DAYS)
            followers_count = self._followers(
                lambda: self.rules.min_followers * rng.paretovariate(WHITELISTED_FOLLOWERS_ALPHA)
            )
            status = VerificationStatus.VERIFIED
        else:
            codes, cumulative = self.vertical_choices[kind]
            created_at = self._ago(*ACCOUNT_AGE_DAYS)
            followers_count = self._followers(lambda: rng.lognormvariate(FOLLOWERS_MU, FOLLOWERS_SIGMA))
            draw = rng.random()
            status = (
                VerificationStatus.VERIFIED
                if draw < VERIFIED_SHARE
                else VerificationStatus.UNVERIFIED
                if draw < VERIFIED_SHARE + UNVERIFIED_SHARE
                else VerificationStatus.REJECTED
            )
        vertical = self.verticals[rng.choices(codes, cum_weights=cumulative)[0]]
        verified_at = None
        if status == VerificationStatus.VERIFIED:
            verified_at = min(self.now, created_at + timedelta(days=rng.uniform(0.05, 30)))
        suffix = rng.choice(ACCOUNT_SUFFIXES)
        account_id = self.next_id(OfficialAccount)
        batch.add(
            OfficialAccount,
            (
                account_id,
                organization_id,
                Platform.WEIBO.value,
                f"{UID_PREFIX}{serial:07d}",
                f"{rng.choice(stems)}{suffix}{serial}",
                kind,
                vertical.pk,
                followers_count,
                status.value,
                verified_at,
                created_at,
                verified_at or created_at,
            ),
        )
        if not whitelisted:
            self._idle_quota(batch, account_id=account_id)
            return None
        valid_from = self._whitelist(
            batch,
            account_id=account_id,
            account_serial=serial,
            organization_id=organization_id,
            kind=kind,
            vertical=vertical,
            followers_count=followers_count,
        )
        linked = rng.random() * self.whitelisted_to_come < self.linked_left
        self.whitelisted_to_come -= 1
        if not linked:
            self._idle_quota(batch, account_id=account_id)
            return None
        self.linked_left -= 1
        draw = rng.random() * self.linked_to_come
        self.linked_to_come -= 1
        shared = ""
        if draw < self.last_hour_left:
            shared, self.last_hour_left = "last", self.last_hour_left - 1
        elif draw < self.last_hour_left + self.this_hour_left:
            shared, self.this_hour_left = "this", self.this_hour_left - 1
        return LinkedAccount(id=account_id, valid_from=valid_from, shared=shared)

    @staticmethod
    def _followers(draw: Callable[[], float]) -> int:
        """A draw below the cap: drawn again rather than capped, so no crowd of accounts shares the cap."""
        followers = draw()
        while followers > FOLLOWERS_MAX:
            followers = draw()
        return int(followers)

    def _idle_quota(self, batch: Batch, *, account_id: int) -> None:
        """With --quota-rows all, an account that shows no mini program has a counter idle since long ago."""
        if self.quota_rows == "all":
            idle_since = self.this_window - timedelta(hours=self.rng.randint(2, 24 * 30))
            batch.add(ShareQuota, (account_id, idle_since, 0))

    def _whitelist(
        self,
        batch: Batch,
        *,
        account_id: int,
        account_serial: int,
        organization_id: int,
        kind: str,
        vertical: Vertical,
        followers_count: int,
    ) -> datetime:
        """An approved application, its evaluation and timeline, and the active entry it granted."""
        rng = self.rng
        valid_from = self._ago(*ENTRY_AGE_DAYS)
        created_at = valid_from - timedelta(days=rng.uniform(3, 20))
        submitted_at = created_at + timedelta(hours=rng.uniform(1, 48))
        team_size = rng.randint(max(1, self.rules.min_dev_team_size), max(60, self.rules.min_dev_team_size))
        services = [UserService.GOVERNMENT_SERVICES.value] if kind == OrganizationKind.GOVERNMENT else []
        wanted = rng.randint(max(1, self.rules.min_user_services), max(4, self.rules.min_user_services))
        others = [value for value in UserService.values if value not in services]
        services += rng.sample(others, min(len(others), wanted - len(services)))
        products = [{"name": "官方 App", "url": f"https://apps.scale-seed.example/{account_serial}"}]
        support = [
            SUPPORT_CHANNELS[0].format(rng.randint(100, 999), rng.randint(0, 9999)),
            SUPPORT_CHANNELS[1],
        ]
        facts = Facts(
            account_verified=True,
            vertical_code=vertical.code,
            vertical_name=str(vertical.name),
            followers_count=followers_count,
            has_in_house_team=True,
            dev_team_size=team_size,
            self_developed_products=products,
            services=services,
            support_channels=support,
            attachment_count=0,
            last_revoked_at=None,
            now=submitted_at,
        )
        results, recommendation = evaluate(facts, self.rules)
        application_id = self.next_id(WhitelistApplication)
        batch.add(
            WhitelistApplication,
            (
                application_id,
                account_id,
                organization_id,
                self.user_id,
                ApplicationState.APPROVED.value,
                True,
                team_size,
                _json(products),
                _json(services),
                _json(support),
                "Refunds within 7 days, handled by our own service team.",
                "Our in-house team builds and runs the mini program.",
                submitted_at,
                valid_from,
                created_at,
                valid_from,
            ),
        )
        evaluation_id = self.next_id(Evaluation)
        batch.add(
            Evaluation,
            (
                evaluation_id,
                application_id,
                self.policy.pk,
                _json([result.as_dict() for result in results]),
                str(recommendation),
                submitted_at,
            ),
        )
        for from_state, to_state, evaluation, at in (
            ("", ApplicationState.DRAFT.value, None, created_at),
            (ApplicationState.DRAFT.value, ApplicationState.SUBMITTED.value, evaluation_id, submitted_at),
            (ApplicationState.SUBMITTED.value, ApplicationState.APPROVED.value, None, valid_from),
        ):
            batch.add(
                # Emailed when they happened: the missed-notification sweep has nothing to send.
                ReviewEvent,
                (application_id, self.user_id, from_state, to_state, "", True, evaluation, at, at),
            )
        entry_id = self.next_id(WhitelistEntry)
        batch.add(
            WhitelistEntry,
            (
                entry_id,
                account_id,
                EntryState.ACTIVE.value,
                self.policy.default_share_limit_per_hour,
                valid_from,
                valid_from + self.validity,
                application_id,
                valid_from,
                valid_from,
            ),
        )
        batch.add(
            WhitelistEntryEvent,
            (
                entry_id,
                self.user_id,
                "granted",
                "",
                EntryState.ACTIVE.value,
                "",
                _json({"policy": self.policy.version}),
                valid_from,
                valid_from,
            ),
        )
        return valid_from

    def _miniprograms(
        self, batch: Batch, *, organization_id: int, accounts: list[LinkedAccount], stem: str
    ) -> None:
        """The organization's mini programs, live on each linked account, and the accounts' shares."""
        rng = self.rng
        count = rng.choices(MINIPROGRAMS_PER_ORGANIZATION, weights=MINIPROGRAMS_WEIGHTS)[0]
        count = min(count, self.links_per_account)
        registered_at = min(account.valid_from for account in accounts) + timedelta(hours=rng.uniform(2, 12))
        miniprograms = []
        for name in rng.sample(MINIPROGRAM_NAMES, count):
            miniprogram_id = self.next_id(MiniProgram)
            self.miniprogram_serial += 1
            capabilities = sorted(rng.sample(Capability.values, rng.randint(1, 3)))
            batch.add(
                MiniProgram,
                (
                    miniprogram_id,
                    organization_id,
                    f"99{self.miniprogram_serial:014d}",
                    f"{stem}{name}"[: MiniProgram._meta.get_field("name").max_length],
                    f"{stem}{name}, built and run by our own team.",
                    "",
                    rng.choice(Category.values),
                    _json(capabilities),
                    MiniProgramState.ACTIVE.value,
                    self.user_id,
                    registered_at,
                    registered_at,
                ),
            )
            miniprograms.append(miniprogram_id)
        for account in accounts:
            requested_at = max(registered_at, account.valid_from) + timedelta(hours=rng.uniform(1, 12))
            decided_at = requested_at + timedelta(hours=rng.uniform(1, 12))
            links = []
            for position, miniprogram_id in enumerate(miniprograms, start=1):
                link_id = self.next_id(ProfileLink)
                batch.add(
                    ProfileLink,
                    (
                        link_id,
                        miniprogram_id,
                        account.id,
                        ProfileLinkState.LIVE.value,
                        position,
                        self.user_id,
                        "",
                        self.user_id,
                        decided_at,
                        requested_at,
                        decided_at,
                    ),
                )
                batch.add(
                    ProfileLinkEvent,
                    (link_id, self.user_id, "", ProfileLinkState.PENDING_REVIEW.value, "", requested_at),
                )
                batch.add(
                    ProfileLinkEvent,
                    (
                        link_id,
                        self.user_id,
                        ProfileLinkState.PENDING_REVIEW.value,
                        ProfileLinkState.LIVE.value,
                        "",
                        decided_at,
                    ),
                )
                links.append((link_id, miniprogram_id))
            self._shares(batch, account=account, links=links)

    def _shares(self, batch: Batch, *, account: LinkedAccount, links: list[tuple[int, int]]) -> None:
        """The account's quota row, and its share in the last closed or the current hour if it shared."""
        rng = self.rng
        link_id, miniprogram_id = rng.choice(links)
        if account.shared == "last":
            window, shared_at = self.last_window, self.last_window + timedelta(seconds=rng.uniform(0, 3599))
        elif account.shared == "this":
            elapsed = max(0.0, (self.now - self.this_window).total_seconds())
            window, shared_at = (
                self.this_window,
                self.this_window + timedelta(seconds=rng.uniform(0, elapsed)),
            )
        else:
            # It shared some earlier hour; the hourly reset zeroed its counter since.
            batch.add(
                ShareQuota, (account.id, self.this_window - timedelta(hours=rng.randint(2, 24 * 30)), 0)
            )
            return
        limit = self.policy.default_share_limit_per_hour
        batch.add(ShareQuota, (account.id, window, 1))
        batch.add(Share, (account.id, miniprogram_id, link_id, None, window, 1, limit, "", "", shared_at))


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
                    with cursor.copy(_copy_statement(model)) as copy:
                        for row in rows:
                            copy.write_row(row)
                    written[model] += len(rows)
                self._analyze_grown(written, analyzed)
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
        command = self._analyze(WRITE_ORDER, vacuum=True)
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

    def _analyze_grown(
        self, written: Counter[type[models.Model]], analyzed: dict[type[models.Model], int]
    ) -> None:
        """ANALYZE, before the batch commits, each referenced table whose seeded rows doubled.

        The deferred foreign key checks run at COMMIT with plans cached for the session. Planned on
        the statistics of an empty table, the check of an account id scans the whole
        (organization, -id) index instead of the primary key, and the seed turns quadratic;
        fresh statistics make PostgreSQL plan them again. ANALYZE counts this transaction's rows.
        """
        grown = [model for model in REFERENCED if written[model] >= 2 * analyzed.get(model, 0) > 0]
        grown += [model for model in REFERENCED if written[model] and model not in analyzed]
        self._analyze(grown)
        for model in grown:
            analyzed[model] = written[model]

    def _analyze(self, models_: Sequence[type[models.Model]], *, vacuum: bool = False) -> str:
        """ANALYZE the tables; with vacuum, VACUUM (ANALYZE) them where no transaction is open.

        Autovacuum may be off (it is on the project's 2-core machine): VACUUM marks the loaded pages
        all-visible, as on a database that runs autovacuum, and frees what --clean deleted.
        """
        command = "VACUUM (ANALYZE) {}" if vacuum and not connection.in_atomic_block else "ANALYZE {}"
        with connection.connection.cursor() as cursor:
            for model in dict.fromkeys(models_):
                cursor.execute(sql.SQL(command).format(_table(model)))
        return command.removesuffix(" {}")

    def _report(self, counts: Counter[type[models.Model]], *, elapsed: float, verb: str) -> None:
        counts = +counts
        width = max(len(model._meta.db_table) for model in counts) if counts else 0
        for model, count in counts.items():
            self.stdout.write(f"  {model._meta.db_table:<{width}}  {count:>12,}")
        self.stdout.write(self.style.SUCCESS(f"{verb} {sum(counts.values()):,} rows in {elapsed:,.1f}s."))

    def _clean(self, *, batch_size: int) -> None:
        started = time.monotonic()
        deleted: Counter[type[models.Model]] = Counter()
        # Fresh statistics first: the deletes and their foreign key checks are planned on them, and on a
        # table last analyzed empty they would scan whole indexes per row (autovacuum may be off).
        self._analyze([model for model, _path in (*CLEAN_BY_ACCOUNT, *CLEAN_BY_ORGANIZATION)])
        for root, prefix, steps in (
            (OfficialAccount, UID_PREFIX, CLEAN_BY_ACCOUNT),
            (Organization, ORGANIZATION_PREFIX, CLEAN_BY_ORGANIZATION),
        ):
            self._clean_rows(root=root, prefix=prefix, steps=steps, batch_size=batch_size, deleted=deleted)
        try:
            with transaction.atomic():
                users, _by_model = User.objects.filter(username=SEED_USERNAME).delete()
        except (ProtectedError, IntegrityError):
            users = 0
            self.stderr.write(f"Kept the user {SEED_USERNAME!r}: rows that the seed did not create name it.")
        deleted[User] += users
        deleted = +deleted  # only the tables that lost rows
        if not deleted:
            self.stdout.write("No seed present; nothing deleted.")
            return
        analyze_started = time.monotonic()
        command = self._analyze(list(deleted), vacuum=True)
        self.stdout.write(f"{command} took {time.monotonic() - analyze_started:,.1f}s.")
        self._report(deleted, elapsed=time.monotonic() - started, verb="Deleted")

    def _clean_rows(
        self,
        *,
        root: type[models.Model],
        prefix: str,
        steps: tuple[tuple[type[models.Model], ForeignKeyPath], ...],
        batch_size: int,
        deleted: Counter[type[models.Model]],
    ) -> None:
        """Delete the seeded roots and what hangs off them, an id range per transaction."""
        marker = _column(root, "platform_uid" if root is OfficialAccount else "name")
        pattern = prefix + "%"
        with connection.connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT count(*), min(id), max(id) FROM {} WHERE {} LIKE %s").format(
                    _table(root), sql.Identifier(marker)
                ),
                [pattern],
            )
            total, lowest, highest = cursor.fetchone()
        if not total:
            return
        roots = sql.SQL(
            "SELECT id FROM {} WHERE id BETWEEN %(low)s AND %(high)s AND {} LIKE %(pattern)s"
        ).format(_table(root), sql.Identifier(marker))
        statements = [(model, self._delete_statement(model, path, roots)) for model, path in steps]
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
            self._progress(
                f"{done:,}/{total:,} {root._meta.verbose_name_plural} deleted ({100 * done / total:.1f}%), "
                f"{sum(deleted.values()):,} rows in all, {done / elapsed if elapsed else 0:,.0f}/s"
            )
        self._progress(f"Deleted {done:,} seeded {root._meta.verbose_name_plural}.", final=True)

    @staticmethod
    def _delete_statement(
        model: type[models.Model], path: ForeignKeyPath, roots: sql.Composable
    ) -> sql.Composable:
        """DELETE FROM model WHERE its path of foreign keys leads to one of the roots."""
        condition = roots
        # From the root back towards the model: each step selects the ids of the table one step nearer.
        for index in range(len(path) - 1, 0, -1):
            column, table = path[index][0], path[index - 1][1]
            condition = sql.SQL("SELECT id FROM {} WHERE {} IN ({})").format(
                _table(table), sql.Identifier(column), condition
            )
        first_column = path[0][0]
        return sql.SQL("DELETE FROM {} WHERE {} IN ({})").format(
            _table(model), sql.Identifier(first_column), condition
        )
