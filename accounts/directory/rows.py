"""One row of a directory import read into the account's and the organization's fields, with its errors."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from ..models import (
    AccountKind,
    OfficialAccount,
    Organization,
    OrganizationKind,
    Platform,
    VerificationStatus,
)
from ..validators import validate_unified_social_credit_code
from .results import AccountKey


def _max_length(model: type[models.Model], name: str) -> int:
    model_field = model._meta.get_field(name)
    assert isinstance(model_field, models.CharField) and model_field.max_length is not None
    return model_field.max_length


_UID_MAX_LENGTH = _max_length(OfficialAccount, "platform_uid")
_SCREEN_NAME_MAX_LENGTH = _max_length(OfficialAccount, "screen_name")
_ORGANIZATION_NAME_MAX_LENGTH = _max_length(Organization, "name")
_FOLLOWERS_MAX = 2**63 - 1  # the largest value a PositiveBigIntegerField holds on every backend
_WHOLE_NUMBER = re.compile(r"[0-9]+")
# TextChoices.values builds a new list on every access; each row checks four of them.
_PLATFORMS = frozenset(Platform.values)
_ACCOUNT_KINDS = frozenset(AccountKind.values)
# The directory says verified, unverified or rejected; "pending" is an organization's own request.
_DIRECTORY_VERIFICATION_STATUSES = [
    VerificationStatus.UNVERIFIED.value,
    VerificationStatus.VERIFIED.value,
    VerificationStatus.REJECTED.value,
]
_VERIFICATION_STATUSES = frozenset(_DIRECTORY_VERIFICATION_STATUSES)
_ORGANIZATION_KINDS = frozenset(OrganizationKind.values)


@dataclass(slots=True)
class ParsedRow:
    line: int
    key: AccountKey | None
    values: Mapping[str, str] = field(default_factory=dict)
    screen_name: str = ""
    kind: str = ""
    vertical_id: int | None = None
    followers_count: int = 0
    verification_status: str = ""
    organization_name: str = ""
    organization_kind: str = ""
    organization_credit_code: str = ""
    # Errors in the account's columns reject the row; errors in the organization's columns
    # reject it only when the row would create an account, as existing accounts keep theirs.
    errors: dict[str, list[str]] = field(default_factory=dict)
    organization_errors: dict[str, list[str]] = field(default_factory=dict)


def _text(values: Mapping[str, str], column: str) -> str:
    value = values.get(column)
    return "" if value is None else str(value).strip()


def _choice_error(label: str, value: str, choices: Iterable[str]) -> str:
    return _("Unknown %(label)s “%(value)s”; use one of: %(choices)s.") % {
        "label": label,
        "value": value,
        "choices": ", ".join(choices),
    }


def _too_long_error(value: str, limit: int) -> str:
    return _("Ensure this value has at most %(limit)d characters (it has %(length)d).") % {
        "limit": limit,
        "length": len(value),
    }


def row_parse(values: Mapping[str, str], *, line: int, vertical_ids: Mapping[str, int]) -> ParsedRow:
    errors: dict[str, list[str]] = {}
    organization_errors: dict[str, list[str]] = {}
    required = _("This field is required.")

    platform = _text(values, "platform").lower() or Platform.WEIBO.value
    if platform not in _PLATFORMS:
        errors["platform"] = [_choice_error(_("platform"), platform, Platform.values)]

    platform_uid = _text(values, "platform_uid")
    if not platform_uid:
        errors["platform_uid"] = [required]
    elif len(platform_uid) > _UID_MAX_LENGTH:
        errors["platform_uid"] = [_too_long_error(platform_uid, _UID_MAX_LENGTH)]

    screen_name = _text(values, "screen_name")
    if not screen_name:
        errors["screen_name"] = [required]
    elif len(screen_name) > _SCREEN_NAME_MAX_LENGTH:
        errors["screen_name"] = [_too_long_error(screen_name, _SCREEN_NAME_MAX_LENGTH)]

    kind = _text(values, "kind").lower()
    if not kind:
        errors["kind"] = [required]
    elif kind not in _ACCOUNT_KINDS:
        errors["kind"] = [_choice_error(_("kind"), kind, AccountKind.values)]

    vertical_code = _text(values, "vertical").lower()
    vertical_id = vertical_ids.get(vertical_code)
    if not vertical_code:
        errors["vertical"] = [required]
    elif vertical_id is None:
        errors["vertical"] = [
            _("Unknown vertical “%(code)s”; use the code of an existing vertical.") % {"code": vertical_code}
        ]

    followers_text = _text(values, "followers_count")
    followers_count = 0
    if not followers_text:
        errors["followers_count"] = [required]
    elif not _WHOLE_NUMBER.fullmatch(followers_text):
        errors["followers_count"] = [_("Enter a whole number >= 0.")]
    else:
        followers_count = int(followers_text)
        if followers_count > _FOLLOWERS_MAX:
            errors["followers_count"] = [
                _("Ensure this value is less than or equal to %(limit)d.") % {"limit": _FOLLOWERS_MAX}
            ]

    verification_status = _text(values, "verification_status").lower()
    if verification_status and verification_status not in _VERIFICATION_STATUSES:
        errors["verification_status"] = [
            _choice_error(_("verification status"), verification_status, _DIRECTORY_VERIFICATION_STATUSES)
            + " "
            + _("Leave it blank to keep the current status.")
        ]

    organization_name = _text(values, "organization_name")
    if not organization_name:
        organization_errors["organization_name"] = [_("This field is required for a new account.")]
    elif len(organization_name) > _ORGANIZATION_NAME_MAX_LENGTH:
        organization_errors["organization_name"] = [
            _too_long_error(organization_name, _ORGANIZATION_NAME_MAX_LENGTH)
        ]

    organization_kind = _text(values, "organization_kind").lower()
    if not organization_kind:
        organization_kind = kind if kind in _ORGANIZATION_KINDS else OrganizationKind.OTHER.value
    elif organization_kind not in _ORGANIZATION_KINDS:
        organization_errors["organization_kind"] = [
            _choice_error(_("organization kind"), organization_kind, OrganizationKind.values)
        ]

    credit_code = _text(values, "organization_credit_code").upper()
    if credit_code:
        try:
            validate_unified_social_credit_code(credit_code)
        except ValidationError as exc:
            organization_errors["organization_credit_code"] = list(exc.messages)

    valid_key = "platform" not in errors and "platform_uid" not in errors
    return ParsedRow(
        line=line,
        key=(platform, platform_uid) if valid_key else None,
        values=values,
        screen_name=screen_name,
        kind=kind,
        vertical_id=vertical_id,
        followers_count=followers_count,
        verification_status=verification_status,
        organization_name=organization_name,
        organization_kind=organization_kind,
        organization_credit_code=credit_code,
        errors=errors,
        organization_errors=organization_errors,
    )
