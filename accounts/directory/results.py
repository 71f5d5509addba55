"""What became of the rows of a directory import: each row's result, and the running summary."""

from dataclasses import dataclass, field
from typing import Literal

from django.core.exceptions import NON_FIELD_ERRORS

Outcome = Literal["created", "updated", "rejected"]
AccountKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class RowResult:
    """What became of one row: the account it created or updated, or why it was rejected."""

    line: int
    outcome: Outcome
    account_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """The errors on one line: `followers_count: Enter a whole number >= 0.`"""
        return "; ".join(
            message if name == NON_FIELD_ERRORS else f"{name}: {message}"
            for name, messages in self.errors.items()
            for message in messages
        )


@dataclass(slots=True)
class ImportSummary:
    """Running counts of an import and its first rejected rows (all of them go to the callback)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    first_rejections: list[RowResult] = field(default_factory=list)
