"""What the scale seed writes: the programme's figures and distributions, the name tables, and `ScalePlan`."""

import importlib
import math
from dataclasses import dataclass

from django.core.management.base import CommandError

from accounts.models import AccountKind, OrganizationKind

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
