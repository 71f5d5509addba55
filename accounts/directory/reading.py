"""Reading a directory file: its columns, its records with their line numbers, and the spreadsheet escape."""

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from django.utils.translation import gettext as _

from portal.errors import ApplicationError

from .results import ImportSummary

REQUIRED_COLUMNS = ("platform_uid", "screen_name", "kind", "vertical", "followers_count")
OPTIONAL_COLUMNS = (
    "platform",
    "verification_status",
    "organization_name",
    "organization_kind",
    "organization_credit_code",
)
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """The cell as text a spreadsheet shows and never runs: a leading `'` before a formula's first sign."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _spreadsheet_unescaped(record: list[str]) -> list[str]:
    # What spreadsheet_safe wrote, read back: a rejects file imports again as it is.
    return [
        value[1:] if value.startswith("'") and value[1:2] and value[1] in FORMULA_PREFIXES else value
        for value in record
    ]


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    """One record of a directory file: its first line, its values by column, and a reading error."""

    line: int
    values: Mapping[str, str]
    error: str = ""


class DirectoryFileError(ApplicationError):
    """The file cannot be read as a directory: no header, missing columns, bad encoding."""

    code = "directory-file-invalid"

    def __init__(self, message: str, *, summary: ImportSummary | None = None) -> None:
        super().__init__(message)
        # What was imported before the file turned unreadable; None when nothing was attempted.
        self.summary = summary


class DirectoryCsvReader:
    """The records of a directory CSV file with their line numbers; the header is checked at once."""

    def __init__(self, text: Iterable[str]) -> None:
        self._reader = csv.reader(text)
        try:
            header = next(self._reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DirectoryFileError(_("The header row cannot be read: %(error)s") % {"error": exc}) from exc
        if header is None:
            raise DirectoryFileError(_("The file is empty; it needs a header row naming the columns."))
        self.columns = [name.strip().lstrip("\ufeff").strip().lower() for name in header]
        repeated = sorted({name for name in self.columns if name and self.columns.count(name) > 1})
        if repeated:
            raise DirectoryFileError(
                _("The header names these columns more than once: %(columns)s.")
                % {"columns": ", ".join(repeated)}
            )
        missing = [name for name in REQUIRED_COLUMNS if name not in self.columns]
        if missing:
            raise DirectoryFileError(
                _("The header lacks the required columns: %(missing)s. Required: %(required)s.")
                % {"missing": ", ".join(missing), "required": ", ".join(REQUIRED_COLUMNS)}
            )
        self.ignored_columns = [name for name in self.columns if name and name not in KNOWN_COLUMNS]

    def __iter__(self) -> Iterator[DirectoryRow]:
        reader = self._reader
        width = len(self.columns)
        while True:
            last_line = reader.line_num
            try:
                record = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise DirectoryFileError(
                    _("The file is not valid UTF-8 after line %(line)d: %(error)s")
                    % {"line": last_line, "error": exc}
                ) from exc
            except csv.Error as exc:
                raise DirectoryFileError(
                    _("Line %(line)d cannot be read: %(error)s") % {"line": reader.line_num, "error": exc}
                ) from exc
            # Blank lines and rows of empty cells, as spreadsheets leave at the end, carry nothing.
            if not any(value.strip() for value in record):
                continue
            error = ""
            if len(record) > width:
                error = _(
                    "This row has %(found)d values but the header has %(width)d columns; "
                    "quote values that contain a comma."
                ) % {"found": len(record), "width": width}
            if any(value.startswith("'") for value in record):
                record = _spreadsheet_unescaped(record)
            # A short row leaves its last columns blank, as spreadsheets write them.
            yield DirectoryRow(
                line=last_line + 1, values=dict(zip(self.columns, record, strict=False)), error=error
            )
