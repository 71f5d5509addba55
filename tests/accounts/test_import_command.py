"""`manage.py import_accounts`: what staff see when they load the directory from a CSV file."""

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import OfficialAccount, Organization, VerificationStatus
from tests import factories

pytestmark = pytest.mark.django_db

HEADER = (
    "platform,platform_uid,screen_name,kind,vertical,followers_count,verification_status,organization_name"
)


@pytest.fixture(autouse=True)
def verticals(db: None) -> None:
    for code in ("government", "commerce", "food_beverage", "retail", "media", "education", "healthcare"):
        factories.vertical(code)


def good(uid: str, *, screen_name: str = "", followers: str = "100", status: str = "") -> str:
    return f"weibo,{uid},{screen_name or 'Account ' + uid},enterprise,commerce,{followers},{status},Org {uid}"


def write_csv(tmp_path: Path, *rows: str, header: str = HEADER, encoding: str = "utf-8") -> Path:
    path = tmp_path / "directory.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def import_accounts(path: Path, *args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("import_accounts", str(path), *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def uids() -> list[str]:
    return sorted(OfficialAccount.objects.values_list("platform_uid", flat=True))


def test_import_accounts__good_and_bad_rows__good_rows_land_and_summary_lists_the_bad_lines(tmp_path):
    # Given a file with four good rows and four bad ones
    path = write_csv(
        tmp_path,
        good("1"),
        "weibo,2,Negative,enterprise,commerce,-15,,Org 2",
        "weibo,3,Nowhere,enterprise,astrology,10,,Org 3",
        good("4"),
        "weibo,,No uid,enterprise,commerce,10,,Org 5",
        "weibo,6,Odd kind,charity,commerce,10,,Org 6",
        good("7"),
        good("8"),
    )
    # When staff import it
    stdout, _ = import_accounts(path)
    # Then the good rows are accounts and the summary names each bad line, field and reason
    assert uids() == ["1", "4", "7", "8"]
    assert "created 4, updated 0, rejected 4" in stdout
    assert "line 3: followers_count: Enter a whole number >= 0." in stdout
    assert "line 4: vertical: Unknown vertical “astrology”" in stdout
    assert "line 6: platform_uid: This field is required." in stdout
    assert "line 7: kind: Unknown kind “charity”" in stdout


def test_import_accounts__same_file_twice__second_run_updates_and_creates_nothing(tmp_path):
    # Given a directory imported once
    path = write_csv(tmp_path, good("1"), good("2"), good("3", followers="-1"))
    first, _ = import_accounts(path)
    # When the next edition, with new follower counts, is imported
    path = write_csv(tmp_path, good("1", followers="150"), good("2"), good("3"))
    second, _ = import_accounts(path)
    # Then the known accounts are updated, the fixed row is created, nothing is doubled
    assert "created 2, updated 0, rejected 1" in first
    assert "created 1, updated 2, rejected 0" in second
    assert uids() == ["1", "2", "3"]
    assert OfficialAccount.objects.get(platform_uid="1").followers_count == 150
    assert Organization.objects.count() == 3


def test_import_accounts__verification_status_column__sets_verified_at(tmp_path):
    path = write_csv(tmp_path, good("1", status="verified"), good("2"), good("3", status="rejected"))
    import_accounts(path)
    accounts = {account.platform_uid: account for account in OfficialAccount.objects.all()}
    assert accounts["1"].verification_status == VerificationStatus.VERIFIED
    assert accounts["1"].verified_at is not None
    assert (accounts["2"].verification_status, accounts["2"].verified_at) == (
        VerificationStatus.UNVERIFIED,
        None,
    )
    assert (accounts["3"].verification_status, accounts["3"].verified_at) == (
        VerificationStatus.REJECTED,
        None,
    )


def test_import_accounts__header_without_a_required_column__fails_and_writes_nothing(tmp_path):
    path = write_csv(
        tmp_path, "weibo,1,One,enterprise,commerce,,Org 1", header=HEADER.replace("followers_count,", "")
    )
    with pytest.raises(CommandError, match=r"lacks the required columns: followers_count\."):
        import_accounts(path)
    assert OfficialAccount.objects.count() == 0
    assert Organization.objects.count() == 0


def test_import_accounts__missing_file__fails_naming_it(tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*absent\.csv: No such file or directory"):
        import_accounts(tmp_path / "absent.csv")


def test_import_accounts__empty_file__fails_asking_for_a_header(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(CommandError, match="needs a header row"):
        import_accounts(path)


def test_import_accounts__batch_size_2_over_7_rows__every_row_counts_across_batches(tmp_path):
    # Given seven rows, two bad ones on either side of a batch boundary
    path = write_csv(
        tmp_path,
        good("1"),
        good("2"),
        good("3"),
        good("4", followers="many"),
        good("5", followers="-2"),
        good("6"),
        good("7"),
    )
    # When they are imported two at a time
    stdout, stderr = import_accounts(path, "--batch-size", "2")
    # Then every good row lands, the bad lines are right, and progress shows each batch
    assert uids() == ["1", "2", "3", "6", "7"]
    assert "created 5, updated 0, rejected 2" in stdout
    assert "line 5: followers_count" in stdout
    assert "line 6: followers_count" in stdout
    progress = [line for line in stderr.splitlines() if line.strip()]
    assert [line.split(" rows:")[0] for line in progress] == ["2", "4", "6", "7"]
    assert "7 rows: created 5, updated 0, rejected 2; 100.0% of the file" in progress[-1]
    assert progress[-1].endswith("rows/s")


@pytest.mark.parametrize("batch_size", ["1000", "2", "1"])
def test_import_accounts__uid_repeated_in_the_file__last_row_wins_whatever_the_batch_size(
    tmp_path, batch_size
):
    path = write_csv(tmp_path, good("1", screen_name="First"), good("2"), good("1", screen_name="Last"))
    stdout, _ = import_accounts(path, "--batch-size", batch_size)
    assert "created 2, updated 1, rejected 0" in stdout
    assert OfficialAccount.objects.get(platform_uid="1").screen_name == "Last"
    assert OfficialAccount.objects.count() == 2


def test_import_accounts__file_with_byte_order_mark__reads_the_header(tmp_path):
    # Given a file saved by a spreadsheet program: UTF-8 with a byte order mark, CRLF line ends
    path = tmp_path / "directory.csv"
    path.write_bytes(
        "\r\n".join(
            [HEADER, "weibo,1,深圳政府在线,government,government,5,verified,深圳市人民政府办公厅"]
        ).encode("utf-8-sig")
    )
    stdout, _ = import_accounts(path)
    assert "created 1, updated 0, rejected 0" in stdout
    account = OfficialAccount.objects.select_related("organization").get(platform_uid="1")
    assert (account.screen_name, account.organization.name) == ("深圳政府在线", "深圳市人民政府办公厅")


def test_import_accounts__rejects_csv__holds_every_rejected_row_with_line_and_reason(tmp_path):
    # Given more bad rows than the summary prints
    bad_rows = [good(str(uid), followers="-1") for uid in range(100, 160)]
    path = write_csv(tmp_path, good("1"), *bad_rows)
    rejects = tmp_path / "rejects.csv"
    # When they are imported with --rejects-csv
    stdout, _ = import_accounts(path, "--rejects-csv", str(rejects))
    # Then the summary prints the first ones and points at the file, which holds all of them
    assert "created 1, updated 0, rejected 60" in stdout
    assert "Rejected rows (the first 50 of 60):" in stdout
    assert f"... and 10 more; all of them are in {rejects}." in stdout
    with rejects.open(encoding="utf-8-sig", newline="") as file:
        written = list(csv.DictReader(file))
    assert len(written) == 60
    assert written[0]["line"] == "3"
    assert written[0]["reason"] == "followers_count: Enter a whole number >= 0."
    # A cell a spreadsheet would run as a formula is written with a leading '
    assert (written[0]["platform_uid"], written[0]["followers_count"]) == ("100", "'-1")
    assert written[-1]["line"] == "62"


def test_import_accounts__rejects_csv_fixed__imports_again(tmp_path):
    # Given the rejects file of a first import, with the bad figure corrected
    rejects = tmp_path / "rejects.csv"
    import_accounts(write_csv(tmp_path, good("1"), good("2", followers="-1")), "--rejects-csv", str(rejects))
    rejects.write_text(rejects.read_text(encoding="utf-8-sig").replace(",'-1,", ",12,"), encoding="utf-8")
    # When it is imported as it is, line and reason columns included
    stdout, _ = import_accounts(rejects)
    # Then the fixed row lands
    assert "created 1, updated 0, rejected 0" in stdout
    assert OfficialAccount.objects.get(platform_uid="2").followers_count == 12


def test_import_accounts__quiet__prints_no_progress_but_the_summary(tmp_path):
    stdout, stderr = import_accounts(write_csv(tmp_path, good("1")), "--quiet")
    assert stderr == ""
    assert "created 1, updated 0, rejected 0" in stdout


def test_import_accounts__unknown_columns__are_named_and_ignored(tmp_path):
    path = write_csv(tmp_path, good("1") + ",phone checked", header=HEADER + ",remarks")
    stdout, stderr = import_accounts(path, "--quiet")
    assert "Ignoring unknown columns: remarks." in stderr
    assert "created 1, updated 0, rejected 0" in stdout


def test_import_accounts__invalid_utf8_after_good_rows__fails_after_importing_the_rows_before(tmp_path):
    # Given a file whose bytes stop being UTF-8 well after its first rows
    path = tmp_path / "directory.csv"
    rows = "\n".join(good(str(uid)) for uid in range(1000, 1400))
    path.write_bytes(f"{HEADER}\n{rows}\n".encode() + b"weibo,9,\xff\xfe broken,enterprise,commerce,1,,Org\n")
    stdout = StringIO()
    # When it is imported
    with pytest.raises(CommandError, match="not valid UTF-8") as raised:
        call_command("import_accounts", str(path), "--batch-size", "50", stdout=stdout, stderr=StringIO())
    # Then the command fails, and says what the rows read before the bad bytes became
    imported = OfficialAccount.objects.count()
    assert 0 < imported <= 400
    assert f"created {imported:,}, updated 0, rejected 0" in stdout.getvalue()
    assert "imported rows are updated, not duplicated" in str(raised.value)


def test_import_accounts__docs_sample__imports_seven_rows_and_rejects_four():
    stdout, _ = import_accounts(settings.BASE_DIR / "docs" / "sample_directory.csv", "--quiet")
    assert "created 7, updated 0, rejected 4" in stdout
    assert [line.split(":")[0] for line in stdout.splitlines() if line.startswith("line ")] == [
        "line 8",
        "line 9",
        "line 10",
        "line 11",
    ]
    # Two accounts share the organization found by its credit code
    assert (
        Organization.objects.filter(unified_social_credit_code="11440300007536472M")
        .get()
        .official_accounts.count()
        == 2
    )


def test_import_accounts__rejects_csv_naming_the_input__fails_and_leaves_the_file_alone(tmp_path):
    path = write_csv(tmp_path, good("1"))
    content = path.read_text()
    with pytest.raises(CommandError, match="names the file being imported"):
        import_accounts(path, "--rejects-csv", str(path))
    assert path.read_text() == content
    assert OfficialAccount.objects.count() == 0


def test_import_accounts__rejects_csv__formula_cells_get_a_leading_quote(tmp_path):
    # Given rejected rows whose cells a spreadsheet would run (OWASP CSV injection)
    path = write_csv(
        tmp_path,
        'weibo,11,"=HYPERLINK(""http://evil.example"",""x"")",enterprise,commerce,-1,,Org 11',
        "weibo,12,+cmd|' /C calc'!A0,enterprise,commerce,bad,,@SUM(1+1)",
        "weibo,13,-2+3,enterprise,commerce,bad,,\tOrg",
    )
    rejects = tmp_path / "rejects.csv"
    # When they are imported with --rejects-csv
    import_accounts(path, "--rejects-csv", str(rejects))
    # Then no cell of the file starts with a formula sign
    with rejects.open(encoding="utf-8-sig", newline="") as file:
        written = list(csv.DictReader(file))
    assert [row["screen_name"] for row in written] == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'+cmd|' /C calc'!A0",
        "'-2+3",
    ]
    assert written[0]["followers_count"] == "'-1"
    assert written[1]["organization_name"] == "'@SUM(1+1)"
    for row in written:
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values())


def test_import_accounts__rejects_csv_with_formula_cells__imports_again_as_the_original_text(tmp_path):
    # Given the rejects file of a row whose screen name starts with a formula sign
    rejects = tmp_path / "rejects.csv"
    import_accounts(
        write_csv(tmp_path, good("21", screen_name="-Sale-", followers="bad")), "--rejects-csv", str(rejects)
    )
    rejects.write_text(rejects.read_text(encoding="utf-8-sig").replace(",bad,", ",12,"), encoding="utf-8")
    # When it is imported again, Then the name is the original text, without the quote
    stdout, _ = import_accounts(rejects)
    assert "created 1, updated 0, rejected 0" in stdout
    assert OfficialAccount.objects.get(platform_uid="21").screen_name == "-Sale-"
