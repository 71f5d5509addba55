"""`manage.py seed_scale`: a realistic directory in PostgreSQL, deterministic, removed exactly by --clean."""

import statistics
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models

from accounts.models import OfficialAccount, Organization, User, VerificationStatus
from accounts.validators import validate_unified_social_credit_code
from demo.management.commands.seed_scale import (
    CLEAN_BY_ACCOUNT,
    CLEAN_BY_ORGANIZATION,
    ORGANIZATION_PREFIX,
    SEED_USERNAME,
    UID_PREFIX,
    VERTICAL_CODES,
)
from miniprograms import services as miniprogram_services
from miniprograms.models import MiniProgram, ProfileLink, Share, ShareQuota
from miniprograms.quota import WINDOW, window_start
from tests import factories
from whitelist import services as whitelist_services
from whitelist.models import (
    EntryState,
    Evaluation,
    ReviewEvent,
    WhitelistApplication,
    WhitelistEntry,
    WhitelistEntryEvent,
)

ACCOUNTS = 2_000
EVIDENCE = {
    "has_in_house_team": True,
    "dev_team_size": 8,
    "self_developed_products": [{"name": "Order app", "url": "https://apps.example.com/order"}],
    "services": ["ordering", "payment"],
    "support_channels": ["400-800-1234"],
}


@pytest.fixture
def directory_ready(postgres: None, policy) -> None:  # type: ignore[no-untyped-def]
    """What `migrate` creates and the seed reads: the nine verticals and the active policy."""
    for code in VERTICAL_CODES:
        factories.vertical(code)


def seed_scale(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("seed_scale", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def seeded_accounts() -> models.QuerySet[OfficialAccount]:
    return OfficialAccount.objects.filter(platform_uid__startswith=UID_PREFIX)


def table_counts() -> dict[str, int]:
    tables = {model for model, _path in (*CLEAN_BY_ACCOUNT, *CLEAN_BY_ORGANIZATION)} | {User}
    return {model._meta.db_table: model.objects.count() for model in tables}


def directory_snapshot() -> list[tuple[object, ...]]:
    """What the seed drew, without ids and times (which depend on the sequences and the clock)."""
    accounts = seeded_accounts().order_by("platform_uid")
    return [
        *accounts.values_list(
            "platform_uid",
            "screen_name",
            "kind",
            "vertical__code",
            "followers_count",
            "verification_status",
            "organization__name",
            "organization__unified_social_credit_code",
        ),
        *WhitelistEntry.objects.filter(account__in=accounts)
        .order_by("account__platform_uid")
        .values_list("account__platform_uid", "state", "share_limit_per_hour"),
        *ProfileLink.objects.filter(account__in=accounts)
        .order_by("account__platform_uid", "position")
        .values_list("account__platform_uid", "miniprogram__app_id", "miniprogram__name", "position"),
        *Share.objects.filter(account__in=accounts)
        .order_by("account__platform_uid")
        .values_list("account__platform_uid", "slot", "limit"),
    ]


def test_seed_scale__2000_accounts__has_the_programmes_split_and_whitelist(directory_ready):
    # When 2,000 accounts are seeded
    stdout, stderr = seed_scale("--accounts", str(ACCOUNTS), "--seed", "1")
    # Then the directory has the programme's split: 170,000 government per 1,670,000 accounts
    accounts = seeded_accounts()
    assert accounts.count() == ACCOUNTS
    kinds = dict(accounts.values_list("kind").annotate(n=models.Count("id")))
    assert kinds["government"] / ACCOUNTS == pytest.approx(170_000 / 1_670_000, abs=0.002)
    assert kinds["enterprise"] > 0.85 * ACCOUNTS
    assert kinds.get("media", 0) < 0.02 * ACCOUNTS
    assert set(accounts.values_list("vertical__code", flat=True)) == set(VERTICAL_CODES)
    statuses = dict(accounts.values_list("verification_status").annotate(n=models.Count("id")))
    assert statuses[VerificationStatus.VERIFIED] > 0.8 * ACCOUNTS
    # ... about five accounts per organization, each organization of its accounts' kind
    organizations = Organization.objects.filter(name__startswith=ORGANIZATION_PREFIX)
    assert 0.15 * ACCOUNTS < organizations.count() < 0.3 * ACCOUNTS
    assert not accounts.exclude(kind=models.F("organization__kind")).exists()
    # ... followers heavy-tailed: most accounts small, a few with millions
    followers = list(accounts.values_list("followers_count", flat=True))
    assert statistics.median(followers) < 10_000
    assert max(followers) > 1_000_000
    # ... 5% whitelisted, each by an approved application, active for a year at one share an hour
    entries = WhitelistEntry.objects.filter(account__in=accounts)
    assert entries.count() == ACCOUNTS * 5 // 100
    assert set(entries.values_list("state", "share_limit_per_hour")) == {(EntryState.ACTIVE, 1)}
    assert {entry.valid_until - entry.valid_from for entry in entries} == {timedelta(days=365)}
    assert set(entries.values_list("application__state", flat=True)) == {"approved"}
    assert not entries.exclude(account__verification_status=VerificationStatus.VERIFIED).exists()
    assert set(
        Evaluation.objects.filter(application__account__in=accounts).values_list("recommendation", flat=True)
    ) == {"eligible"}
    # ... 1% shared in the last closed hour, half as many this hour, each on a live link of its organization
    this_hour = window_start()
    shares = Share.objects.filter(account__in=accounts)
    assert shares.filter(window_start=this_hour - WINDOW).count() == ACCOUNTS // 100
    assert shares.filter(window_start=this_hour).count() == ACCOUNTS // 200
    assert not shares.exclude(link__state="live").exists()
    assert not shares.exclude(miniprogram__organization=models.F("account__organization")).exists()
    assert ShareQuota.objects.filter(account__in=accounts).count() == ACCOUNTS
    assert ShareQuota.objects.filter(account__in=accounts, used__gt=0).count() == shares.count()
    # ... its events count as emailed, so the missed-notification sweep finds nothing to send
    assert not ReviewEvent.objects.filter(
        application__account__in=accounts, notified_at__isnull=True
    ).exists()
    assert not WhitelistEntryEvent.objects.filter(
        entry__account__in=accounts, notified_at__isnull=True
    ).exists()
    # ... and the command said how far it got and what it wrote
    assert f"{ACCOUNTS:,}/{ACCOUNTS:,} accounts (100.0%)" in stderr
    assert "accounts_officialaccount" in stdout and "2,000" in stdout


def test_seed_scale__rows__pass_the_models_validation(directory_ready):
    # Given a seeded directory
    seed_scale("--accounts", str(ACCOUNTS), "--seed", "2")
    # Then every organization has a valid credit code of its kind, and sampled rows pass full_clean
    organizations = Organization.objects.filter(name__startswith=ORGANIZATION_PREFIX)
    for organization in organizations:
        validate_unified_social_credit_code(organization.unified_social_credit_code)
        expected_prefix = {"government": "11", "enterprise": "91", "media": "12"}[organization.kind]
        assert organization.unified_social_credit_code.startswith(expected_prefix)
        organization.full_clean()
    accounts = seeded_accounts()
    for model, rows in (
        (OfficialAccount, accounts.order_by("?")[:300]),
        (WhitelistApplication, WhitelistApplication.objects.filter(account__in=accounts)),
        (WhitelistEntry, WhitelistEntry.objects.filter(account__in=accounts)),
        (MiniProgram, MiniProgram.objects.filter(organization__in=organizations)),
        (ProfileLink, ProfileLink.objects.filter(account__in=accounts)),
        (Share, Share.objects.filter(account__in=accounts)),
    ):
        checked = 0
        for row in rows:
            row.full_clean()
            checked += 1
        assert checked, model


def test_seed_scale__same_seed__same_directory(directory_ready):
    # Given a directory seeded with --seed 7 and cleaned
    seed_scale("--accounts", "500", "--seed", "7")
    first = directory_snapshot()
    seed_scale("--clean")
    # When it is seeded again with the same seed, and then with another
    seed_scale("--accounts", "500", "--seed", "7")
    again = directory_snapshot()
    seed_scale("--clean")
    seed_scale("--accounts", "500", "--seed", "8")
    other = directory_snapshot()
    # Then the same seed draws the same directory, another seed another one
    assert len(first) > 500
    assert again == first
    assert other != first


def test_seed_scale__clean__removes_exactly_the_seeded_rows(
    directory_ready, merchant, organization, staff, settings
):
    # Given demo data made through the services: a whitelisted account, a live mini program, a share
    settings.SHARE_QUOTA_BACKEND = "database"
    account = factories.official_account(
        actor=merchant, organization=organization, platform_uid="5501150801", verified_by=staff
    )
    application = whitelist_services.application_create(actor=merchant, account=account, data=EVIDENCE)
    whitelist_services.application_submit(actor=merchant, application=application)
    whitelist_services.application_approve(actor=staff, application=application)
    miniprogram = miniprogram_services.miniprogram_create(
        actor=merchant,
        organization=organization,
        app_id="2021004100000001",
        name="Order",
        category="business",
    )
    link = miniprogram_services.profile_link_request(actor=merchant, miniprogram=miniprogram, account=account)
    miniprogram_services.profile_link_approve(actor=staff, link=link)
    miniprogram_services.share_record(actor=merchant, miniprogram=miniprogram, account=account)
    before = table_counts()
    # ... and a seed on top of it, whose last closed hour the hourly reset has recorded
    seed_scale("--accounts", str(ACCOUNTS), "--seed", "3")
    assert miniprogram_services.share_quotas_reset().quotas_reset == ACCOUNTS // 100
    assert table_counts() != before
    # When the seed is cleaned, in batches smaller than the seed
    stdout, stderr = seed_scale("--clean", "--batch-size", "300")
    # Then every table is back to the demo data, which is untouched
    assert table_counts() == before
    assert not User.objects.filter(username=SEED_USERNAME).exists()
    account.refresh_from_db()
    assert account.whitelist_entry.state == EntryState.ACTIVE
    assert ProfileLink.objects.get(pk=link.pk).state == "live"
    assert Share.objects.filter(account=account).count() == 1
    assert f"{ACCOUNTS:,}/{ACCOUNTS:,} official accounts deleted (100.0%)" in stderr
    assert "Deleted" in stdout
    # ... and a second clean finds nothing
    stdout, _ = seed_scale("--clean")
    assert "nothing deleted" in stdout


def test_seed_scale__seed_present__second_run_refuses(directory_ready):
    # Given a seeded directory
    seed_scale("--accounts", "300", "--seed", "4")
    # When it is seeded again without --clean
    with pytest.raises(CommandError, match=r"already present.*--clean"):
        seed_scale("--accounts", "300", "--seed", "4")
    # Then nothing was added
    assert seeded_accounts().count() == 300


def test_seed_scale__more_sharers_than_whitelisted__refused(directory_ready):
    with pytest.raises(CommandError, match="only whitelisted accounts can share"):
        seed_scale("--accounts", "1000", "--whitelisted-fraction", "0.01", "--shared-fraction", "0.02")
    assert not seeded_accounts().exists()


@pytest.mark.django_db
def test_seed_scale__not_on_postgresql__refused(monkeypatch):
    # CI runs on PostgreSQL, so the other vendor is simulated; the refusal comes before any write.
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        seed_scale("--accounts", "10")
    monkeypatch.undo()
    assert not seeded_accounts().exists()
