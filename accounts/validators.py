"""Validators for identifiers of organizations and accounts, and for users' time zones."""

import zoneinfo
from functools import cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# GB 32100-2015: the 31 characters of the code (no I, O, Z, S, V) and the weights of positions 1-17.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
CREDIT_CODE_REGEX = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"


def credit_code_check_character(first_17: str) -> str:
    """The 18th character that GB 32100-2015 computes from the first 17."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(first_17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def validate_unified_social_credit_code(value: str) -> None:
    """Check the shape and the check character of a unified social credit code."""
    if len(value) != 18:
        raise ValidationError(_("A unified social credit code has exactly 18 characters."), code="length")
    if any(char not in CREDIT_CODE_ALPHABET for char in value):
        raise ValidationError(
            _(
                "A unified social credit code uses only digits and the capital letters "
                "A-Y without I, O, S, V and Z."
            ),
            code="alphabet",
        )
    if not value[2:8].isdigit():
        raise ValidationError(
            _("Characters 3 to 8 of a unified social credit code are the region code, all digits."),
            code="region",
        )
    if credit_code_check_character(value[:17]) != value[17]:
        raise ValidationError(
            _(
                "The check character of this unified social credit code is wrong; "
                "please check the code for typing errors."
            ),
            code="check_character",
        )


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names this system knows (read once: the listing walks the tz database)."""
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(
            _("%(value)s is not a time zone; choose one such as Asia/Shanghai."),
            code="time_zone",
            params={"value": value},
        )
