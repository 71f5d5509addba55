"""`manage.py import_accounts FILE.csv`: load the platform's directory of official accounts."""

import csv
import io
import os
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import reset_queries

from accounts.directory import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    DirectoryCsvReader,
    DirectoryFileError,
    ImportSummary,
    RowResult,
    directory_import,
    spreadsheet_safe,
)

# How many rejected rows the summary prints; --rejects-csv gets all of them.
SHOWN_REJECTIONS = 50
REJECTS_EXTRA_COLUMNS = ("line", "reason")


def _plain(text: str) -> str:
    return text


class Command(BaseCommand):
    help = (
        "Create or update official accounts from a CSV file (UTF-8, header row), keyed by "
        f"(platform, platform_uid). Required columns: {', '.join(REQUIRED_COLUMNS)}; "
        f"optional: {', '.join(OPTIONAL_COLUMNS)}. Rejected rows are reported and never stop the others."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the CSV file of the directory")
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="rows written per transaction (default 1000)"
        )
        parser.add_argument(
            "--rejects-csv",
            metavar="PATH",
            help=(
                "write every rejected row to PATH with its line and reason; fixed, it imports again "
                "(a cell starting with = + - @ gets a leading ' so that a spreadsheet does not run it; "
                "the import takes that ' off again)"
            ),
        )
        parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    def handle(
        self,
        *args: Any,
        file: str,
        batch_size: int,
        rejects_csv: str | None,
        quiet: bool,
        **options: Any,
    ) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        with ExitStack() as stack:
            try:
                binary = stack.enter_context(open(file, "rb"))
            except OSError as exc:
                raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from exc
            size = os.fstat(binary.fileno()).st_size
            if rejects_csv and os.path.exists(rejects_csv) and os.path.samefile(rejects_csv, file):
                raise CommandError("--rejects-csv names the file being imported; writing it would erase it.")
            # utf-8-sig drops the byte order mark that spreadsheet programs write.
            text = stack.enter_context(io.TextIOWrapper(binary, encoding="utf-8-sig", newline=""))
            try:
                reader = DirectoryCsvReader(text)
            except DirectoryFileError as exc:
                raise CommandError(f"{file}: {exc.message} Nothing was imported.") from exc
            if reader.ignored_columns:
                self.stderr.write(
                    f"Ignoring unknown columns: {', '.join(reader.ignored_columns)}.",
                    style_func=self.style.WARNING,
                )
            on_reject = None
            if rejects_csv:
                on_reject = self._rejects_writer(stack, path=rejects_csv, columns=reader.columns)
            progress = None if quiet or options.get("verbosity", 1) == 0 else self._progress(binary, size)
            started = time.monotonic()

            def on_batch(summary: ImportSummary) -> None:
                # With DEBUG on, Django keeps the SQL of every query; a long import must not.
                reset_queries()
                if progress is not None:
                    progress(summary, time.monotonic() - started)

            try:
                summary = directory_import(
                    rows=reader,
                    batch_size=batch_size,
                    on_batch=on_batch,
                    on_reject=on_reject,
                    rejections_kept=SHOWN_REJECTIONS,
                )
            except DirectoryFileError as exc:
                if progress is not None and self.stderr.isatty():
                    self.stderr.write("")
                if exc.summary is not None:
                    self._summary_write(
                        exc.summary, file=file, elapsed=time.monotonic() - started, rejects_csv=rejects_csv
                    )
                raise CommandError(
                    f"{file}: {exc.message} The rows read before it were imported; fix the file and "
                    "import it again (imported rows are updated, not duplicated)."
                ) from exc
            if progress is not None and self.stderr.isatty():
                self.stderr.write("")
            self._summary_write(
                summary, file=file, elapsed=time.monotonic() - started, rejects_csv=rejects_csv
            )

    def _progress(self, binary: io.BufferedReader, size: int) -> Callable[[ImportSummary, float], None]:
        # On a terminal each line overwrites the last; in a log, one line a batch.
        ending = "\r" if self.stderr.isatty() else "\n"

        def progress(summary: ImportSummary, elapsed: float) -> None:
            # The binary file's position runs a read-ahead buffer ahead of the rows: close enough.
            percent = 100 * binary.tell() / size if size else 100.0
            rate = summary.rows / elapsed if elapsed > 0 else 0.0
            self.stderr.write(
                f"{summary.rows:,} rows: created {summary.created:,}, updated {summary.updated:,}, "
                f"rejected {summary.rejected:,}; {percent:.1f}% of the file, {rate:,.0f} rows/s",
                style_func=_plain,
                ending=ending,
            )

        return progress

    def _rejects_writer(
        self, stack: ExitStack, *, path: str, columns: list[str]
    ) -> Callable[[RowResult, Mapping[str, str]], None]:
        try:
            # With a byte order mark, spreadsheet programs read the file as UTF-8.
            output = stack.enter_context(
                open(path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115 - the stack closes it
            )
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}. Nothing was imported.") from exc
        fieldnames = [*REJECTS_EXTRA_COLUMNS, *(c for c in columns if c and c not in REJECTS_EXTRA_COLUMNS)]
        writer = csv.DictWriter(output, fieldnames=fieldnames, extrasaction="ignore")
        writer.writeheader()

        def on_reject(result: RowResult, values: Mapping[str, str]) -> None:
            row = {**values, "line": result.line, "reason": result.reason}
            writer.writerow({name: spreadsheet_safe(value) for name, value in row.items()})

        return on_reject

    def _summary_write(
        self, summary: ImportSummary, *, file: str, elapsed: float, rejects_csv: str | None = None
    ) -> None:
        rate = summary.rows / elapsed if elapsed > 0 else 0.0
        self.stdout.write(f"Imported {file}: {summary.rows:,} rows in {elapsed:.1f} s ({rate:,.0f} rows/s).")
        self.stdout.write(
            f"created {summary.created:,}, updated {summary.updated:,}, rejected {summary.rejected:,}",
            style_func=self.style.SUCCESS if not summary.rejected else self.style.WARNING,
        )
        if not summary.rejected:
            return
        shown = summary.first_rejections[:SHOWN_REJECTIONS]
        if summary.rejected > len(shown):
            self.stdout.write(f"Rejected rows (the first {len(shown):,} of {summary.rejected:,}):")
        else:
            self.stdout.write("Rejected rows:")
        for result in shown:
            self.stdout.write(f"line {result.line}: {result.reason}")
        if summary.rejected > len(shown):
            where = (
                f"all of them are in {rejects_csv}"
                if rejects_csv
                else "give --rejects-csv PATH to get them all"
            )
            self.stdout.write(f"... and {summary.rejected - len(shown):,} more; {where}.")
        elif rejects_csv:
            self.stdout.write(f"They are also in {rejects_csv}.")
