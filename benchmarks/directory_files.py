"""The directory files of the import benchmark: deterministic CSVs with a share of bad rows of every kind."""

import csv
import hashlib
import importlib
import random
from dataclasses import dataclass
from pathlib import Path

from accounts.validators import CREDIT_CODE_ALPHABET, credit_code_check_character

# The verticals the data migration creates; a benchmark file must use codes that exist.
VERTICAL_CODES: tuple[str, ...] = tuple(
    code for code, _name in importlib.import_module("accounts.migrations.0002_initial_verticals").VERTICALS
)
COLUMNS = (
    "platform",
    "platform_uid",
    "screen_name",
    "kind",
    "vertical",
    "followers_count",
    "verification_status",
    "organization_name",
    "organization_kind",
    "organization_credit_code",
)
KINDS = ("government", "enterprise", "media", "other")
KIND_WEIGHTS = (25, 55, 12, 8)
# Registration authority and organization type, the first two characters of a credit code.
CREDIT_CODE_PREFIXES = {"government": "11", "enterprise": "91", "media": "12", "other": "51"}
CITIES = ("北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "苏州", "长沙")
TOPICS = ("发布", "在线", "交通", "文旅", "健康", "教育", "新闻", "生活", "美食", "商城", "服务", "资讯")
ENGLISH_WORDS = ("Harbour", "Lakeside", "Pioneer", "Summit", "Golden", "River", "Jade", "Maple", "Orbit")
BAD_ROW_SHARE = 100  # one row in this many is bad
CREDIT_CODE_SHARE = 0.6  # the share of organizations (so of rows) with a credit code
ACCOUNTS_PER_ORGANIZATION = 4  # on average; organizations are picked at random for each row


def _rng(seed: int, stream: str) -> random.Random:
    # Not for security: the point is the same file from the same seed.
    return random.Random(f"{seed}:{stream}")  # noqa: S311


# ---------------------------------------------------------------------------------------------
# The directory files


@dataclass(frozen=True, slots=True)
class DirectoryFiles:
    first: Path  # the first import
    changed: Path  # the same uids, followers and screen names changed
    rows: int
    bad_rows: int
    digest: str  # of the first file, to compare runs


def _credit_code(index: int, kind: str, rng: random.Random) -> str:
    """A valid credit code, unique per organization index (characters 9-17 encode it in base 31)."""
    region = f"{rng.randrange(110000, 660000):06d}"
    digits = []
    for _position in range(9):
        index, digit = divmod(index, len(CREDIT_CODE_ALPHABET))
        digits.append(CREDIT_CODE_ALPHABET[digit])
    first_17 = CREDIT_CODE_PREFIXES[kind] + region + "".join(reversed(digits))
    return first_17 + credit_code_check_character(first_17)


def _wrong_check_character(code: str) -> str:
    alphabet = CREDIT_CODE_ALPHABET
    return code[:17] + alphabet[(alphabet.index(code[17]) + 1) % len(alphabet)]


def _screen_name(rng: random.Random, number: int) -> str:
    if rng.random() < 0.7:
        return f"{rng.choice(CITIES)}{rng.choice(TOPICS)}{number % 1000}"
    return f"{rng.choice(ENGLISH_WORDS)} {rng.choice(ENGLISH_WORDS)} {number % 1000}"


# Each bad kind turns a good row into one the import rejects, the same way in both files, so a
# row rejected by the first import is rejected again (its account never exists).
BAD_KINDS: dict[str, dict[str, str] | None] = {
    "negative followers": {"followers_count": "-15"},
    "followers not a number": {"followers_count": "12k"},
    "unknown vertical": {"vertical": "astrology"},
    "unknown kind": {"kind": "robot"},
    "unknown platform": {"platform": "myspace"},
    "missing uid": {"platform_uid": ""},
    "blank screen name": {"screen_name": ""},
    "screen name too long": {"screen_name": "长" * 101},
    "unknown verification status": {"verification_status": "pending"},
    "new account without organization": {"organization_name": "", "organization_credit_code": ""},
    "wrong credit code check character": None,  # handled in _row_spoil
    "unquoted comma (one value too many)": None,  # handled in _row_spoil
}


def _row_spoil(values: dict[str, str], bad_kind: str) -> list[str]:
    spoiled = dict(values)
    change = BAD_KINDS[bad_kind]
    if change is not None:
        spoiled.update(change)
    elif bad_kind == "wrong credit code check character":
        code = spoiled["organization_credit_code"] or _credit_code(0, "enterprise", _rng(0, "bad"))
        spoiled["organization_credit_code"] = _wrong_check_character(code)
    record = [spoiled[column] for column in COLUMNS]
    if bad_kind == "unquoted comma (one value too many)":
        record.insert(3, "Ltd")
    return record


def directory_files_write(directory: Path, *, rows: int, seed: int) -> DirectoryFiles:
    """Write the first and the changed directory file of `rows` rows, the same for the same seed."""
    rng = _rng(seed, "rows")
    changes = _rng(seed, "changes")
    organization_rng = _rng(seed, "organizations")
    organization_count = max(1, rows // ACCOUNTS_PER_ORGANIZATION)
    # Drawn in the order organizations are met, so the same seed gives the same organizations.
    organizations: dict[int, tuple[str, str, str]] = {}
    bad_lines = set(rng.sample(range(rows), rows // BAD_ROW_SHARE))
    bad_kinds = list(BAD_KINDS)
    first_path = directory / f"directory-{rows}.csv"
    changed_path = directory / f"directory-{rows}-changed.csv"
    with (
        first_path.open("w", encoding="utf-8", newline="") as first_file,
        changed_path.open("w", encoding="utf-8", newline="") as changed_file,
    ):
        first_csv = csv.writer(first_file)
        changed_csv = csv.writer(changed_file)
        first_csv.writerow(COLUMNS)
        changed_csv.writerow(COLUMNS)
        for index in range(rows):
            organization_index = rng.randrange(organization_count)
            if organization_index not in organizations:
                new_kind = organization_rng.choices(KINDS, KIND_WEIGHTS)[0]
                code = (
                    _credit_code(organization_index, new_kind, organization_rng)
                    if organization_rng.random() < CREDIT_CODE_SHARE
                    else ""
                )
                organizations[organization_index] = (
                    f"Bench Organization {organization_index}",
                    new_kind,
                    code,
                )
            organization_name, organization_kind, credit_code = organizations[organization_index]
            kind = organization_kind if rng.random() < 0.9 else rng.choice(KINDS)
            # A bijection of the index onto 10-digit numbers (4294967311 is prime): unique uids,
            # in no particular order, as a real export would be.
            uid = str(5_000_000_000 + index * 2_654_435_761 % 4_294_967_311)
            values = {
                "platform": "weibo" if rng.random() < 0.8 else "",
                "platform_uid": uid,
                "screen_name": _screen_name(rng, index),
                "kind": kind,
                "vertical": rng.choice(VERTICAL_CODES),
                "followers_count": str(min(int(rng.paretovariate(1.1) * 500), 900_000_000)),
                "verification_status": rng.choices(
                    ("verified", "unverified", "", "rejected"), (5, 2, 3, 0.2)
                )[0],
                "organization_name": organization_name,
                "organization_kind": organization_kind if rng.random() < 0.7 else "",
                "organization_credit_code": credit_code,
            }
            changed = dict(values)
            changed["followers_count"] = str(int(values["followers_count"]) + changes.randrange(1, 5000))
            if changes.random() < 0.5:
                changed["screen_name"] = f"{values['screen_name']}·新"
            if index in bad_lines:
                bad_kind = bad_kinds[rng.randrange(len(bad_kinds))]
                first_record = _row_spoil(values, bad_kind)
                changed_record = _row_spoil(changed, bad_kind)
            else:
                first_record = [values[column] for column in COLUMNS]
                changed_record = [changed[column] for column in COLUMNS]
            first_csv.writerow(first_record)
            changed_csv.writerow(changed_record)
    return DirectoryFiles(
        first=first_path,
        changed=changed_path,
        rows=rows,
        bad_rows=len(bad_lines),
        digest=hashlib.sha256(first_path.read_bytes()).hexdigest()[:12],
    )
