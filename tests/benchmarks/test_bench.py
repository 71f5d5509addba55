"""`make bench` (benchmarks/bench.py): the report, and its measurements at a small scale on real services."""

from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from benchmarks import bench, bench_common, bench_quota
from benchmarks.throttle_comparison import fresh_accounts
from demo.management.commands.seed_scale import VERTICAL_CODES
from miniprograms.models import Share, ShareQuota
from miniprograms.quota import window_start
from miniprograms.services import share_quotas_reset
from tests import factories


def figure(row: int, met: bool | None) -> bench_common.Figure:
    return bench_common.Figure(row=row, measure=f"m{row}", project="1", reference="2", ratio="0.50", met=met)


def run(*figures: bench_common.Figure) -> bench_common.Run:
    from datetime import UTC, datetime

    return bench_common.Run(
        started=datetime(2026, 11, 24, 1, 2, tzinfo=UTC),
        machine="2 cores",
        commit="abc",
        data="1,000 accounts",
        figures=list(figures),
        elapsed=90,
    )


def test_report__names_date_machine_commit_and_the_missed_targets() -> None:
    text = bench_common.report(run(figure(1, True), figure(2, False), figure(3, None)))
    assert "Run of 2026-11-24 01:02 UTC, commit `abc`, 1.5 min." in text
    assert "- Machine: 2 cores" in text
    assert "| 2 | m2" in text and "**no**" in text
    assert "Targets missed: row 2 (m2)." in text


def test_report__every_target_met__says_so() -> None:
    assert "Every target was met." in bench_common.report(run(figure(1, True), figure(3, None)))


def test_write_report__replaces_only_between_the_markers(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    bench_common.write_report("first\n", path)
    assert path.read_text() == f"# Benchmarks\n\n{bench_common.MARK_START}\nfirst\n{bench_common.MARK_END}\n"
    path.write_text(
        path.read_text().replace("# Benchmarks\n", "# Benchmarks\n\nWritten by hand.\n") + "\nFixes.\n"
    )
    bench_common.write_report("second\n", path)
    text = path.read_text()
    assert "Written by hand." in text and text.endswith("\nFixes.\n")
    assert "second\n" in text and "first" not in text


def test_write_report__file_without_markers__appends_the_block(tmp_path: Path) -> None:
    path = tmp_path / "benchmarks.md"
    path.write_text("# Benchmarks\n\nNotes.\n")
    bench_common.write_report("table\n", path)
    start, end = bench_common.MARK_START, bench_common.MARK_END
    assert path.read_text() == f"# Benchmarks\n\nNotes.\n\n{start}\ntable\n{end}\n"


@pytest.mark.parametrize(
    ("value", "reference", "expected"), [(1, 4, "0.25"), (0, 0, "n/a"), (3, 0, "inf"), (2500, 2, "1,250.00")]
)
def test_ratio(value: float, reference: float, expected: str) -> None:
    assert bench_common.ratio(value, reference) == expected


@pytest.mark.parametrize("rows", ["0", "9", "1,x", ""])
def test_arguments__unknown_rows__refused(rows: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench._arguments(["--rows", rows])
    assert "--rows" in capsys.readouterr().err


def test_bench_environment__lifts_every_rate_limit() -> None:
    env = bench_common.bench_environment(database_url="postgres://x/y", redis_url="redis://z/12")
    assert env["DJANGO_SETTINGS_MODULE"] == "benchmarks.settings"
    from benchmarks.http_load import THROTTLE_RATE_VARIABLES, UNLIMITED_RATE

    assert all(env[name] == UNLIMITED_RATE for name in THROTTLE_RATE_VARIABLES)
    assert "testserver" in env["DJANGO_ALLOWED_HOSTS"].split(",")


@pytest.fixture
def small_directory(postgres: None, policy) -> None:  # type: ignore[no-untyped-def]
    """seed_scale at 400 accounts, 10% whitelisted, all of those shared in the last hour."""
    for code in VERTICAL_CODES:
        factories.vertical(code)
    arguments = [
        "--accounts",
        "400",
        "--whitelisted-fraction",
        "0.1",
        "--shared-fraction",
        "0.1",
        "--seed",
        "7",
    ]
    call_command("seed_scale", *arguments, stdout=StringIO(), stderr=StringIO())


def test_reset_scenario__the_reset_touches_exactly_the_accounts_that_shared(small_directory: None) -> None:
    window = window_start()
    # An account that shared again this hour (as the HTTP row's does): two shares, both slot 1.
    first = Share.objects.order_by("account_id", "id").first()
    assert first is not None
    Share.objects.create(
        account_id=first.account_id,
        miniprogram_id=first.miniprogram_id,
        link_id=first.link_id,
        window_start=window,
        slot=1,
        limit=1,
    )
    for sharing in (4, 40, 4):  # also down again: a scenario undoes the previous one
        bench_quota._reset_scenario(sharing, window)
        assert ShareQuota.objects.filter(used__gt=0).count() == sharing
        assert Share.objects.filter(window_start=window - timedelta(hours=1)).count() == sharing
        result = share_quotas_reset(now=window + timedelta(minutes=1))
        assert (result.quotas_reset, result.windows_recorded) == (sharing, sharing)


def test_naive_reset__measures_and_leaves_every_row_as_it_was(small_directory: None) -> None:
    before = list(ShareQuota.objects.order_by("pk").values_list("pk", "used", "window_start"))
    seconds = bench_quota.naive_reset_seconds_per_row(window_start(), 50)
    assert 0 < seconds < 1
    assert list(ShareQuota.objects.order_by("pk").values_list("pk", "used", "window_start")) == before


@pytest.mark.django_db(transaction=True)
def test_exactness__four_processes__project_backends_grant_exactly_one(
    postgres: None, redis_url: str, record_property
) -> None:  # type: ignore[no-untyped-def]
    """The bench's own burst, small: 3 accounts x 64 attempts from 4 forked processes per backend."""
    factories.vertical("retail")
    accounts = fresh_accounts(3, "test")
    for backend in ("database", "redis"):
        assert bench_quota.exactness(backend, accounts, redis_url=redis_url, timeout=30) == (0, 0)
    over, none = bench_quota.exactness("drf", accounts, redis_url=redis_url, timeout=30)
    assert none == 0  # DRF grants at least the first; its over-grants depend on scheduling
    record_property("drf_over_grants", over)
