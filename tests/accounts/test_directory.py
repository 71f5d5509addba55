"""The directory import service: per-row outcomes, batches, organizations, and retries on conflict."""

import io
import itertools
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.directory import (
    DirectoryCsvReader,
    DirectoryFileError,
    DirectoryRow,
    RowResult,
    directory_import,
    official_accounts_upsert,
)
from accounts.models import (
    DirectoryConflict,
    OfficialAccount,
    Organization,
    OrganizationSource,
    VerificationStatus,
)
from accounts.services import organization_set_identity_verified, organization_update
from accounts.validators import credit_code_check_character
from tests import factories

pytestmark = pytest.mark.django_db

_uids = itertools.count(5_000_000_001)
CREDIT_CODE = "91110000MA01ABCD1" + credit_code_check_character("91110000MA01ABCD1")
OTHER_CREDIT_CODE = "91310115MA1K3Y8Q2" + credit_code_check_character("91310115MA1K3Y8Q2")


@pytest.fixture(autouse=True)
def verticals(db: None) -> None:
    for code in ("government", "commerce", "media"):
        factories.vertical(code)


def row(**values: str) -> dict[str, str]:
    """A valid directory row for a new account; keyword arguments replace its values."""
    uid = values.pop("platform_uid") if "platform_uid" in values else str(next(_uids))
    return {
        "platform": "weibo",
        "platform_uid": uid,
        "screen_name": f"Account {uid}",
        "kind": "enterprise",
        "vertical": "commerce",
        "followers_count": "1200",
        "verification_status": "",
        "organization_name": f"Organization of {uid}",
        "organization_kind": "",
        "organization_credit_code": "",
        **values,
    }


def outcomes(results: list[RowResult]) -> list[tuple[int, str]]:
    return [(result.line, result.outcome) for result in results]


def account(uid: str) -> OfficialAccount:
    return OfficialAccount.objects.select_related("organization", "vertical").get(platform_uid=uid)


def test_upsert__valid_rows__create_accounts_with_their_organizations():
    # When two rows for new accounts are imported
    results = official_accounts_upsert(
        rows=[
            row(platform_uid="100", screen_name="Harbour Noodles", followers_count="152000"),
            row(
                platform_uid="101",
                kind="government",
                vertical="government",
                organization_name="City Office",
                organization_credit_code=CREDIT_CODE,
            ),
        ],
        lines=[2, 3],
    )
    # Then both are created, unverified, each with its organization
    assert outcomes(results) == [(2, "created"), (3, "created")]
    first, second = account("100"), account("101")
    assert [result.account_id for result in results] == [first.pk, second.pk]
    assert (first.screen_name, first.kind, first.vertical.code, first.followers_count) == (
        "Harbour Noodles",
        "enterprise",
        "commerce",
        152000,
    )
    assert (first.verification_status, first.verified_at) == (VerificationStatus.UNVERIFIED, None)
    assert (first.organization.name, first.organization.kind) == ("Organization of 100", "enterprise")
    assert (second.organization.name, second.organization.kind) == ("City Office", "government")
    assert second.organization.unified_social_credit_code == CREDIT_CODE


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"followers_count": "-15"}, "followers_count", "Enter a whole number >= 0."),
        ({"followers_count": "many"}, "followers_count", "Enter a whole number >= 0."),
        ({"followers_count": "1.5"}, "followers_count", "Enter a whole number >= 0."),
        ({"followers_count": "9" * 20}, "followers_count", "less than or equal to"),
        ({"vertical": "astrology"}, "vertical", "Unknown vertical “astrology”"),
        ({"vertical": ""}, "vertical", "This field is required."),
        ({"kind": "charity"}, "kind", "Unknown kind “charity”"),
        ({"platform_uid": "   "}, "platform_uid", "This field is required."),
        ({"platform_uid": "7" * 65}, "platform_uid", "at most 64 characters (it has 65)"),
        ({"screen_name": "x" * 101}, "screen_name", "at most 100 characters (it has 101)"),
        ({"screen_name": ""}, "screen_name", "This field is required."),
        ({"platform": "twitter"}, "platform", "Unknown platform “twitter”"),
        ({"verification_status": "maybe"}, "verification_status", "Unknown verification status “maybe”"),
        ({"organization_credit_code": CREDIT_CODE[:17] + "0"}, "organization_credit_code", "check character"),
        ({"organization_credit_code": "12345"}, "organization_credit_code", "exactly 18 characters"),
        ({"organization_name": ""}, "organization_name", "required for a new account"),
        ({"organization_name": "n" * 201}, "organization_name", "at most 200 characters"),
        ({"organization_kind": "club"}, "organization_kind", "Unknown organization kind “club”"),
    ],
)
def test_upsert__bad_row__is_rejected_naming_its_field_and_the_good_rows_land(values, field, message):
    # When a bad row sits between two good ones in one batch
    results = official_accounts_upsert(
        rows=[row(platform_uid="200"), row(**{"platform_uid": "201", **values}), row(platform_uid="202")],
        lines=[2, 3, 4],
    )
    # Then the bad row alone is rejected, with the field and the reason
    assert outcomes(results) == [(2, "created"), (3, "rejected"), (4, "created")]
    rejected = results[1]
    assert rejected.account_id is None
    assert list(rejected.errors) == [field]
    assert message in rejected.errors[field][0]
    assert rejected.reason.startswith(f"{field}: ")
    # And nothing of it was written
    assert sorted(OfficialAccount.objects.values_list("platform_uid", flat=True)) == ["200", "202"]
    assert not Organization.objects.filter(name="Organization of 201").exists()


def test_upsert__row_with_several_errors__reports_each_field():
    results = official_accounts_upsert(
        rows=[row(followers_count="-1", vertical="nowhere", kind="", organization_credit_code="X")]
    )
    assert set(results[0].errors) == {"followers_count", "vertical", "kind", "organization_credit_code"}
    assert "followers_count: Enter a whole number >= 0." in results[0].reason


def test_upsert__same_rows_again__updates_instead_of_duplicating():
    # Given two accounts imported once
    official_accounts_upsert(rows=[row(platform_uid="300"), row(platform_uid="301")])
    before = account("300")
    # When the directory comes again with new figures for the same owner
    results = official_accounts_upsert(
        rows=[
            row(
                platform_uid="300",
                screen_name="Renamed",
                kind="media",
                vertical="media",
                followers_count="999",
            ),
            row(platform_uid="301"),
        ]
    )
    # Then the accounts are updated in place; the organization stays
    assert outcomes(results) == [(1, "updated"), (2, "updated")]
    assert OfficialAccount.objects.count() == 2
    updated = account("300")
    assert results[0].account_id == updated.pk
    assert (updated.screen_name, updated.kind, updated.vertical.code, updated.followers_count) == (
        "Renamed",
        "media",
        "media",
        999,
    )
    assert (updated.organization, updated.created_at) == (before.organization, before.created_at)
    assert updated.updated_at > before.updated_at
    assert not Organization.objects.filter(name="Someone Else Ltd").exists()


def test_upsert__existing_account_without_organization_columns__is_updated(merchant, organization):
    # Given an account a merchant registered
    registered = factories.official_account(actor=merchant, organization=organization, platform_uid="310")
    # When a row without any organization column updates it
    values = row(platform_uid="310", followers_count="77")
    for column in ("organization_name", "organization_kind", "organization_credit_code"):
        del values[column]
    results = official_accounts_upsert(rows=[values])
    # Then it is updated and still belongs to the merchant's organization
    assert outcomes(results) == [(1, "updated")]
    registered.refresh_from_db()
    assert (registered.followers_count, registered.organization) == (77, organization)


def test_upsert__new_account_verified__sets_verified_at():
    official_accounts_upsert(rows=[row(platform_uid="400", verification_status="verified")])
    created = account("400")
    assert created.verification_status == VerificationStatus.VERIFIED
    assert created.verified_at is not None


def test_upsert__blank_status__keeps_the_existing_status():
    # Given a verified account
    official_accounts_upsert(rows=[row(platform_uid="410", verification_status="verified")])
    verified_at = account("410").verified_at
    # When a row without a status updates it
    official_accounts_upsert(rows=[row(platform_uid="410", followers_count="5")])
    # Then it stays verified since the same moment
    updated = account("410")
    assert (updated.verification_status, updated.verified_at, updated.followers_count) == (
        VerificationStatus.VERIFIED,
        verified_at,
        5,
    )


def test_upsert__verified_again__keeps_the_first_verified_at():
    official_accounts_upsert(rows=[row(platform_uid="420", verification_status="verified")])
    verified_at = account("420").verified_at
    official_accounts_upsert(rows=[row(platform_uid="420", verification_status="verified")])
    assert account("420").verified_at == verified_at


def test_upsert__unverified_account_becomes_verified__gets_verified_at():
    official_accounts_upsert(rows=[row(platform_uid="425")])
    assert account("425").verified_at is None
    official_accounts_upsert(rows=[row(platform_uid="425", verification_status="verified")])
    assert account("425").verified_at is not None


def test_upsert__verified_account_rejected__clears_verified_at():
    official_accounts_upsert(rows=[row(platform_uid="430", verification_status="verified")])
    official_accounts_upsert(rows=[row(platform_uid="430", verification_status="rejected")])
    rejected = account("430")
    assert (rejected.verification_status, rejected.verified_at) == (VerificationStatus.REJECTED, None)


def test_upsert__uid_twice_in_one_batch__last_row_wins():
    # When one uid comes twice in a batch, verified first, renamed later with a blank status
    results = official_accounts_upsert(
        rows=[
            row(platform_uid="500", screen_name="First", verification_status="verified"),
            row(platform_uid="501"),
            row(platform_uid="500", screen_name="Last", followers_count="3"),
        ]
    )
    # Then it is created once and updated by the later row, as if imported one by one
    assert outcomes(results) == [(1, "created"), (2, "created"), (3, "updated")]
    assert OfficialAccount.objects.filter(platform_uid="500").count() == 1
    last = account("500")
    assert results[0].account_id == results[2].account_id == last.pk
    assert (last.screen_name, last.followers_count, last.verification_status) == ("Last", 3, "verified")
    assert last.verified_at is not None


def test_upsert__first_row_of_a_uid_rejected__later_row_creates_it():
    results = official_accounts_upsert(
        rows=[row(platform_uid="510", followers_count="-1"), row(platform_uid="510", screen_name="Fixed")]
    )
    assert outcomes(results) == [(1, "rejected"), (2, "created")]
    assert account("510").screen_name == "Fixed"


def test_upsert__credit_code_of_an_existing_organization__attaches_the_account_to_it():
    # Given an organization known by its credit code
    official_accounts_upsert(
        rows=[
            row(platform_uid="600", organization_name="Registered Name", organization_credit_code=CREDIT_CODE)
        ]
    )
    # When a new account gives the same code (in lower case) under another name
    results = official_accounts_upsert(
        rows=[
            row(
                platform_uid="601",
                organization_name="Trading Name",
                organization_credit_code=CREDIT_CODE.lower(),
            )
        ]
    )
    # Then it joins that organization; no new one is made
    assert outcomes(results) == [(1, "created")]
    assert account("601").organization == account("600").organization
    assert Organization.objects.count() == 1


def test_upsert__new_organization_named_by_several_rows__is_created_once():
    results = official_accounts_upsert(
        rows=[
            row(platform_uid="610", organization_name="Shared Ltd"),
            row(platform_uid="611", organization_name="Shared Ltd"),
            row(
                platform_uid="612", organization_name="Coded Ltd", organization_credit_code=OTHER_CREDIT_CODE
            ),
            row(
                platform_uid="613", organization_name="Coded Ltd", organization_credit_code=OTHER_CREDIT_CODE
            ),
        ]
    )
    assert [result.outcome for result in results] == ["created"] * 4
    assert account("610").organization == account("611").organization
    assert account("612").organization == account("613").organization
    assert Organization.objects.count() == 2


def test_upsert__directory_organization_name_found_once__is_reused():
    # Given an organization the directory created
    official_accounts_upsert(rows=[row(platform_uid="614", organization_name="Alice Foods Co")])
    # When another account names it
    results = official_accounts_upsert(rows=[row(platform_uid="615", organization_name="Alice Foods Co")])
    # Then it joins the same organization
    assert outcomes(results) == [(1, "created")]
    assert account("615").organization == account("614").organization


def test_upsert__identity_verified_organization_name__is_reused(staff, organization):
    # Given the merchant's organization "Alice Foods Co", whose identity staff verified
    organization_set_identity_verified(actor=staff, organization=organization, verified=True)
    results = official_accounts_upsert(rows=[row(platform_uid="616", organization_name="Alice Foods Co")])
    assert outcomes(results) == [(1, "created")]
    assert account("616").organization == organization


def test_upsert__organization_name_shared_by_two_organizations__is_rejected_as_ambiguous():
    # Given two organizations of the directory with the same name
    for _number in range(2):
        Organization.objects.create(
            name="Twin Trading", kind="enterprise", source=OrganizationSource.DIRECTORY
        )
    # When a new account names it without a credit code
    results = official_accounts_upsert(
        rows=[row(platform_uid="620", organization_name="Twin Trading"), row(platform_uid="621")]
    )
    # Then that row is rejected and asks for the credit code; the other lands
    assert outcomes(results) == [(1, "rejected"), (2, "created")]
    assert "organization_credit_code" in results[0].errors["organization_name"][0]
    assert not OfficialAccount.objects.filter(platform_uid="620").exists()


def test_upsert__loose_values__are_normalised_and_unknown_columns_ignored():
    # When a row has padded, upper-case values, a blank platform and a column nobody knows
    values = row(
        platform_uid=" 700 ",
        platform="",
        kind="Media",
        vertical="MEDIA",
        followers_count=" 42 ",
        verification_status="VERIFIED",
        remarks="checked by phone",
    )
    results = official_accounts_upsert(rows=[values])
    # Then the account is created on weibo with the cleaned values
    assert outcomes(results) == [(1, "created")]
    created = account("700")
    assert (created.platform, created.kind, created.vertical.code, created.followers_count) == (
        "weibo",
        "media",
        "media",
        42,
    )
    assert created.verification_status == VerificationStatus.VERIFIED


def test_upsert__batch_size__does_not_change_the_number_of_queries():
    # Given one small and one ten times larger batch, each mixing new, existing and bad rows
    def batch(prefix: str, size: int) -> list[dict[str, str]]:
        return [
            row(platform_uid=f"{prefix}{i}", followers_count="-1" if i % 7 == 0 else "10")
            for i in range(size)
        ]

    official_accounts_upsert(rows=batch("e", 5) + batch("f", 50))
    # When each is imported again together with new rows
    with CaptureQueriesContext(connection) as small:
        official_accounts_upsert(rows=batch("e", 5) + batch("g", 5))
    with CaptureQueriesContext(connection) as large:
        official_accounts_upsert(rows=batch("f", 50) + batch("h", 50))
    # Then both cost the same few queries
    assert len(small.captured_queries) == len(large.captured_queries) <= 10


@pytest.mark.django_db(transaction=True)
def test_upsert__uid_inserted_by_another_transaction__retries_row_by_row_and_updates_it(
    postgres, staff, merchant, organization
):
    # Given a merchant organization with a verified identity and code, named by the directory's row
    organization_update(
        actor=staff, organization=organization, data={"unified_social_credit_code": CREDIT_CODE}
    )
    organization_set_identity_verified(actor=staff, organization=organization, verified=True)
    # And another transaction that registers uid 800 for it and has not committed yet
    outcome: dict[str, object] = {}

    def import_batch() -> None:
        try:
            outcome["results"] = official_accounts_upsert(
                rows=[
                    row(
                        platform_uid="800",
                        screen_name="From the directory",
                        organization_credit_code=CREDIT_CODE,
                    ),
                    row(platform_uid="801"),
                ]
            )
        except Exception as exc:  # reported by the assertions below
            outcome["error"] = exc
        finally:
            connection.close()

    importer = threading.Thread(target=import_batch)
    with transaction.atomic():
        factories.official_account(actor=merchant, organization=organization, platform_uid="800")
        # When the import inserts the same uid and waits on it
        importer.start()
        assert _lock_wait_seen(), "the import never waited on the uncommitted uid"
    importer.join(timeout=30)
    # Then, once that transaction commits, the import updates the account instead of failing the batch
    assert "error" not in outcome, outcome.get("error")
    results = outcome["results"]
    assert outcomes(results) == [(1, "updated"), (2, "created")]
    assert OfficialAccount.objects.filter(platform_uid="800").count() == 1
    updated = account("800")
    assert (updated.screen_name, updated.organization) == ("From the directory", organization)
    assert OfficialAccount.objects.filter(platform_uid="801").exists()


def _lock_wait_seen(timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Statistics are a snapshot per transaction until cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def test_directory_import__more_rejections_than_kept__keeps_the_first_and_reports_all():
    # Given 12 rows, every third one bad, read in batches of 5
    rows = [
        DirectoryRow(line=line, values=row(followers_count="-1" if line % 3 == 0 else "1"))
        for line in range(2, 14)
    ]
    reported: list[tuple[int, str]] = []
    batches: list[int] = []
    # When they are imported keeping two rejections in memory
    summary = directory_import(
        rows=rows,
        batch_size=5,
        rejections_kept=2,
        on_batch=lambda running: batches.append(running.rows),
        on_reject=lambda result, values: reported.append((result.line, values["platform_uid"])),
    )
    # Then the counts cover every row, the callback saw every rejection, the summary only two
    assert (summary.rows, summary.created, summary.updated, summary.rejected) == (12, 8, 0, 4)
    assert [line for line, _ in reported] == [3, 6, 9, 12]
    assert [result.line for result in summary.first_rejections] == [3, 6]
    assert batches == [5, 10, 12]


def test_csv_reader__blank_lines_and_multiline_values__keep_the_file_line_numbers():
    text = io.StringIO(
        "platform_uid,screen_name,kind,vertical,followers_count,organization_name\n"
        "900,One,media,media,1,Org One\n"
        "\n"
        '901,"Two\nlines",media,media,1,Org Two\n'
        ",,,,,\n"
        "902,Three,media,media,1,Org Three\n"
    )
    rows = list(DirectoryCsvReader(text))
    assert [(row.line, row.values["platform_uid"]) for row in rows] == [(2, "900"), (4, "901"), (7, "902")]


def test_csv_reader__row_with_more_values_than_columns__is_rejected_with_the_reason():
    text = io.StringIO(
        "platform_uid,screen_name,kind,vertical,followers_count,organization_name\n"
        "910,Books, Reading Club,media,media,1,Org\n"
        "911,Fine,media,media,1,Org\n"
    )
    summary = directory_import(rows=DirectoryCsvReader(text))
    assert (summary.created, summary.rejected) == (1, 1)
    assert summary.first_rejections[0].line == 2
    assert "quote values that contain a comma" in summary.first_rejections[0].reason
    assert not OfficialAccount.objects.filter(platform_uid="910").exists()


def test_csv_reader__header_without_required_columns__raises_naming_them():
    with pytest.raises(DirectoryFileError) as raised:
        DirectoryCsvReader(io.StringIO("platform_uid,screen_name,kind\n1,One,media\n"))
    assert "vertical, followers_count" in raised.value.message


def test_csv_reader__column_named_twice__raises_naming_it():
    with pytest.raises(DirectoryFileError, match="more than once: kind"):
        DirectoryCsvReader(io.StringIO("platform_uid,screen_name,kind,vertical,followers_count,Kind\n"))


# Squatted names and ownership conflicts


def test_upsert__name_a_merchant_signed_up_with__gets_a_directory_organization_not_the_squatters():
    # Given someone who signed up as "Hangzhou Metro Group"
    _squatter, squatted = factories.merchant_register("squatter", organization_name="Hangzhou Metro Group")
    # When the directory lists a verified account of the group, without a credit code
    results = official_accounts_upsert(
        rows=[
            row(platform_uid="900", organization_name="Hangzhou Metro Group", verification_status="verified")
        ]
    )
    # Then the account goes to an organization of the directory's, never to the one that signed up
    assert outcomes(results) == [(1, "created")]
    holder = account("900").organization
    assert holder != squatted
    assert (holder.name, holder.source) == ("Hangzhou Metro Group", OrganizationSource.DIRECTORY)
    assert not OfficialAccount.objects.filter(organization=squatted).exists()


def test_upsert__credit_code_of_an_unverified_signed_up_organization__is_rejected(staff):
    # Given someone who signed up and entered the group's (public) credit code
    squatter, squatted = factories.merchant_register("squatter", organization_name="Hangzhou Metro Group")
    organization_update(
        actor=squatter, organization=squatted, data={"unified_social_credit_code": CREDIT_CODE}
    )
    # When a row names that code
    results = official_accounts_upsert(rows=[row(platform_uid="901", organization_credit_code=CREDIT_CODE)])
    # Then it is rejected until staff verify that organization's identity
    assert outcomes(results) == [(1, "rejected")]
    assert "staff have not verified its identity" in results[0].errors["organization_credit_code"][0]
    assert not OfficialAccount.objects.filter(platform_uid="901").exists()
    # And once they have, the same row attaches the account to it
    organization_set_identity_verified(actor=staff, organization=squatted, verified=True)
    results = official_accounts_upsert(rows=[row(platform_uid="901", organization_credit_code=CREDIT_CODE)])
    assert outcomes(results) == [(1, "created")]
    assert account("901").organization == squatted


def test_upsert__row_names_another_owner_by_code__is_a_conflict_and_changes_nothing(merchant, organization):
    # Given a squatter's own claim of uid 910 (unverified) and the real owner, known by its code
    factories.official_account(
        actor=merchant, organization=organization, platform_uid="910", followers_count=5
    )
    official_accounts_upsert(rows=[row(organization_name="Real Owner", organization_credit_code=CREDIT_CODE)])
    real_owner = Organization.objects.get(unified_social_credit_code=CREDIT_CODE)
    before = account("910")
    # When the directory's row for uid 910 names the real owner and says verified
    values = row(
        platform_uid="910",
        screen_name="Renamed",
        followers_count="999999",
        verification_status="verified",
        organization_name="Real Owner",
        organization_credit_code=CREDIT_CODE,
    )
    results = official_accounts_upsert(rows=[values], lines=[7])
    # Then the row is rejected as an ownership conflict
    assert outcomes(results) == [(7, "rejected")]
    assert "Ownership conflict" in results[0].errors["organization_credit_code"][0]
    # And nothing about the account changed, its verification included
    after = account("910")
    assert (after.organization, after.screen_name, after.followers_count, after.verification_status) == (
        before.organization,
        before.screen_name,
        5,
        VerificationStatus.UNVERIFIED,
    )
    assert after.updated_at == before.updated_at
    # And staff have the conflict, with the row, the account and both organizations
    conflict = DirectoryConflict.objects.get()
    assert (conflict.account, conflict.holder, conflict.claimant) == (after, organization, real_owner)
    assert (conflict.claimed_credit_code, conflict.line, conflict.state) == (CREDIT_CODE, 7, "open")
    assert conflict.row["followers_count"] == "999999"
    # And the same row imported again adds no second open conflict
    official_accounts_upsert(rows=[values])
    assert DirectoryConflict.objects.count() == 1


def test_upsert__row_names_the_holder_by_name_but_holder_signed_up__is_a_conflict(merchant, organization):
    # Given an account held by the merchant's signed-up "Alice Foods Co"
    factories.official_account(actor=merchant, organization=organization, platform_uid="920")
    # When a row without a code names "Alice Foods Co" and verifies the account
    results = official_accounts_upsert(
        rows=[row(platform_uid="920", organization_name="Alice Foods Co", verification_status="verified")]
    )
    # Then the directory does not take a signed-up name's word: a conflict, the account unverified
    assert outcomes(results) == [(1, "rejected")]
    assert "organization_name" in results[0].errors
    assert account("920").verification_status == VerificationStatus.UNVERIFIED
    assert DirectoryConflict.objects.get().claimed_name == "Alice Foods Co"


def test_upsert__row_names_the_holder_by_code_but_holder_unverified__is_refused(merchant, organization):
    organization_update(
        actor=merchant, organization=organization, data={"unified_social_credit_code": CREDIT_CODE}
    )
    factories.official_account(actor=merchant, organization=organization, platform_uid="925")
    results = official_accounts_upsert(
        rows=[row(platform_uid="925", organization_credit_code=CREDIT_CODE, verification_status="verified")]
    )
    assert outcomes(results) == [(1, "rejected")]
    assert "staff have not verified its identity" in results[0].errors["organization_credit_code"][0]
    assert account("925").verification_status == VerificationStatus.UNVERIFIED
    assert DirectoryConflict.objects.get().holder == organization


def test_upsert__row_names_the_verified_holder__updates_it(staff, merchant, organization):
    organization_update(
        actor=merchant, organization=organization, data={"unified_social_credit_code": CREDIT_CODE}
    )
    organization_set_identity_verified(actor=staff, organization=organization, verified=True)
    factories.official_account(actor=merchant, organization=organization, platform_uid="930")
    results = official_accounts_upsert(
        rows=[row(platform_uid="930", organization_credit_code=CREDIT_CODE, verification_status="verified")]
    )
    assert outcomes(results) == [(1, "updated")]
    assert account("930").verification_status == VerificationStatus.VERIFIED
    assert not DirectoryConflict.objects.exists()


def test_upsert__row_naming_no_owner__updates_the_figures_only(merchant, organization):
    factories.official_account(
        actor=merchant, organization=organization, platform_uid="935", followers_count=5
    )
    results = official_accounts_upsert(
        rows=[row(platform_uid="935", organization_name="", followers_count="77")]
    )
    assert outcomes(results) == [(1, "updated")]
    assert (account("935").followers_count, account("935").organization) == (77, organization)


def test_upsert__unreadable_credit_code_for_existing_account__is_rejected(merchant, organization):
    factories.official_account(
        actor=merchant, organization=organization, platform_uid="940", followers_count=5
    )
    results = official_accounts_upsert(
        rows=[row(platform_uid="940", organization_credit_code="NOT-A-CODE", followers_count="77")]
    )
    assert outcomes(results) == [(1, "rejected")]
    assert "organization_credit_code" in results[0].errors
    assert account("940").followers_count == 5


def test_upsert__directory_account_and_a_row_for_another_directory_owner__is_a_conflict():
    official_accounts_upsert(rows=[row(platform_uid="950", organization_name="First Owner")])
    results = official_accounts_upsert(rows=[row(platform_uid="950", organization_name="Second Owner")])
    assert outcomes(results) == [(1, "rejected")]
    assert account("950").organization.name == "First Owner"
    assert DirectoryConflict.objects.get().holder.name == "First Owner"


def test_organization_update__merchant_renames_verified_organization__loses_the_directory_trust(
    staff, merchant, organization
):
    organization_set_identity_verified(actor=staff, organization=organization, verified=True)
    organization_update(actor=merchant, organization=organization, data={"name": "Hangzhou Metro Group"})
    organization.refresh_from_db()
    assert organization.identity_verified_at is None
    assert not organization.is_trusted_by_directory
