"""Staff directory import: upsert official accounts from rows of text, a batch at a time.

Reading the file (reading), each row's fields (rows), the ownership rules (conflicts) and the upsert
(upsert); every name the importers use is here.
"""

from .reading import (
    FORMULA_PREFIXES,
    KNOWN_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    DirectoryCsvReader,
    DirectoryFileError,
    DirectoryRow,
    spreadsheet_safe,
)
from .results import AccountKey, ImportSummary, Outcome, RowResult
from .upsert import directory_import, official_accounts_upsert

__all__ = [
    "FORMULA_PREFIXES",
    "KNOWN_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "AccountKey",
    "DirectoryCsvReader",
    "DirectoryFileError",
    "DirectoryRow",
    "ImportSummary",
    "Outcome",
    "RowResult",
    "directory_import",
    "official_accounts_upsert",
    "spreadsheet_safe",
]
