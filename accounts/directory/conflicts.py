"""The directory's ownership rules: the organization a row names, and when a row conflicts with the holder."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils.translation import gettext as _

from ..models import DirectoryConflict, OfficialAccount, Organization, OrganizationSource
from .reading import KNOWN_COLUMNS
from .rows import ParsedRow

# Organizations the directory may hand accounts to: its own, and those whose identity staff verified.
# Anyone can sign up with any name or code, so a signed-up organization's word is not enough.
_TRUSTED_ORGANIZATIONS = Q(source=OrganizationSource.DIRECTORY) | Q(identity_verified_at__isnull=False)


@dataclass(frozen=True, slots=True)
class Ownership:
    """Whose a row says an account is: the organization, or why it cannot be one (an error by column)."""

    organization: Organization | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


class OrganizationBook:
    """Finds the organization a row names: by credit code, else a trusted one by name; and new ones."""

    def __init__(self, rows: Iterable[ParsedRow]) -> None:
        codes: set[str] = set()
        names: set[str] = set()
        for row in rows:
            if row.organization_credit_code:
                codes.add(row.organization_credit_code)
            elif row.organization_name:
                names.add(row.organization_name)
        # The explicit `<> ''` lets PostgreSQL use the partial unique index on the credit code.
        found = (
            Organization.objects.filter(unified_social_credit_code__in=codes)
            .exclude(unified_social_credit_code="")
            .order_by()
            if codes
            else Organization.objects.none()
        )
        self._by_code = {organization.unified_social_credit_code: organization for organization in found}
        self._by_name: dict[str, list[Organization]] = {name: [] for name in names}
        trusted = (
            Organization.objects.filter(_TRUSTED_ORGANIZATIONS, name__in=names).order_by() if names else ()
        )
        for organization in trusted:
            self._by_name[organization.name].append(organization)
        self.new: list[Organization] = []

    def named(self, row: ParsedRow) -> Organization | None:
        """The known organization the row names, trusted or not; None for a new or an ambiguous one."""
        if row.organization_credit_code:
            return self._by_code.get(row.organization_credit_code)
        namesakes = self._by_name.get(row.organization_name, [])
        return namesakes[0] if len(namesakes) == 1 else None

    def resolve(self, row: ParsedRow) -> Ownership:
        """The organization of a new account, created if need be, or why the row cannot have one."""
        if row.organization_credit_code:
            organization = self._by_code.get(row.organization_credit_code)
            if organization is None:
                organization = self._add(row, credit_code=row.organization_credit_code)
                self._by_code[row.organization_credit_code] = organization
            elif not organization.is_trusted_by_directory:
                return Ownership(
                    errors={"organization_credit_code": [_unverified_code_error(organization.name)]}
                )
            return Ownership(organization=organization)
        namesakes = self._by_name[row.organization_name]
        if len(namesakes) > 1:
            return Ownership(
                errors={
                    "organization_name": [
                        _(
                            "More than one organization is called “%(name)s”; "
                            "give organization_credit_code to choose one."
                        )
                        % {"name": row.organization_name}
                    ]
                }
            )
        return Ownership(organization=namesakes[0] if namesakes else self._add(row, credit_code=""))

    def _add(self, row: ParsedRow, *, credit_code: str) -> Organization:
        organization = Organization(
            name=row.organization_name,
            kind=row.organization_kind,
            unified_social_credit_code=credit_code,
            source=OrganizationSource.DIRECTORY,
        )
        self.new.append(organization)
        # A later row of this batch that names it finds it, as it would in a later batch.
        if organization.name in self._by_name:
            self._by_name[organization.name].append(organization)
        return organization


def _unverified_code_error(organization_name: str) -> str:
    return _(
        "“%(name)s” signed up with this credit code and staff have not verified its identity; "
        "verify it in the admin, then import the row again."
    ) % {"name": organization_name}


def row_names_owner(row: ParsedRow) -> bool:
    return bool(row.organization_credit_code or row.organization_name)


def owner_errors_of_existing(row: ParsedRow) -> dict[str, list[str]]:
    """The organization columns' errors that reject a row for an existing account.

    A row that names no owner updates the account's facts only. One that does must be readable: its
    code and name are checked against the holder. The name is required of new accounts only.
    """
    if not row_names_owner(row):
        return {}
    return {
        name: messages
        for name, messages in row.organization_errors.items()
        if name != "organization_name" or row.organization_name
    }


@dataclass(frozen=True, slots=True)
class Holder:
    """What a row is checked against: the name and code of the organization holding the account."""

    name: str
    credit_code: str
    trusted: bool

    @classmethod
    def of(cls, organization: Organization) -> "Holder":
        return cls(
            organization.name, organization.unified_social_credit_code, organization.is_trusted_by_directory
        )


def holder_matches(row: ParsedRow, holder: Holder) -> bool:
    """Whether the organization holding an account is the one the row names (and may be trusted)."""
    if not holder.trusted:
        return False
    if row.organization_credit_code:
        return holder.credit_code == row.organization_credit_code
    return holder.name == row.organization_name


def ownership_conflict_errors(row: ParsedRow, holder: Holder) -> dict[str, list[str]]:
    column = "organization_credit_code" if row.organization_credit_code else "organization_name"
    if row.organization_credit_code and holder.credit_code == row.organization_credit_code:
        message = _unverified_code_error(holder.name)
    else:
        message = _(
            "Ownership conflict: the account belongs to another organization (“%(holder)s”). "
            "Nothing about the account was changed; staff resolve it under Directory conflicts."
        ) % {"holder": holder.name}
    return {column: [message]}


_CONFLICT_ROW_COLUMNS = KNOWN_COLUMNS


def conflicts_record(conflicts: Sequence[tuple[ParsedRow, OfficialAccount]]) -> None:
    """Store the ownership conflicts for staff; one already open for the same claim is kept as it is."""
    # Looked up only when a batch has conflicts: the organizations the rows name, when known.
    book = OrganizationBook(row for row, _account in conflicts)
    DirectoryConflict.objects.bulk_create(
        [
            DirectoryConflict(
                account_id=account.pk,
                holder_id=account.organization_id,
                claimant=book.named(row),
                claimed_name=row.organization_name,
                claimed_credit_code=row.organization_credit_code,
                row={column: row.values[column] for column in _CONFLICT_ROW_COLUMNS if column in row.values},
                line=row.line,
            )
            for row, account in conflicts
        ],
        # The partial unique index on open conflicts: the same row imported again adds nothing.
        ignore_conflicts=True,
    )
