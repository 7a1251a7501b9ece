"""Chinese resident identity numbers (居民身份证号码, GB 11643-1999): one place to clean, check and build them."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from hub.clock import local_today
from hub.vocabulary import Gender

# ISO 7064 MOD 11-2: position i (0-based, of 17) carries weight 2**(17 - i) mod 11.
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARACTERS = "10X98765432"  # indexed by the weighted sum mod 11
_PROVINCES = frozenset(
    [
        *range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47),
        *range(50, 55), *range(61, 66), 71, 81, 82,
    ]
)  # fmt: skip
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# Births are registered on the Chinese calendar day; China has used UTC+8 without DST since 1991.
# Explicit [0-9] because \d and str.isdigit() also accept Arabic-Indic, full-width and other digits.
_CANONICAL = re.compile(r"[0-9]{17}[0-9X]")
_DIGITS = re.compile(r"[0-9]+")
_HALF_WIDTH = str.maketrans(
    {**{chr(0xFF10 + n): str(n) for n in range(10)}, "Ｘ": "X", "ｘ": "X", "x": "X"}
)


class IdNumberReason(StrEnum):
    """Why a number was rejected; stable codes stored in quarantine and sent in GraphQL errors."""

    EMPTY = "EMPTY"
    BAD_LENGTH = "BAD_LENGTH"
    BAD_CHARACTER = "BAD_CHARACTER"
    BAD_REGION = "BAD_REGION"
    BAD_BIRTH_DATE = "BAD_BIRTH_DATE"
    FUTURE_BIRTH_DATE = "FUTURE_BIRTH_DATE"
    BAD_CHECK_DIGIT = "BAD_CHECK_DIGIT"


class IdNumberError(ValueError):
    """A rejected number; the message names the part at fault, never the whole number (it is PII)."""

    def __init__(self, reason: IdNumberReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[IdNumberError], tuple[IdNumberReason, str]]:
        """Pickle by reason and detail, so errors survive process pools and task queues."""
        return (type(self), (self.reason, self.detail))


def check_digit(first17: str) -> str:
    """Compute the ISO 7064 MOD 11-2 check character, which catches every single-digit typo."""
    if len(first17) != 17:
        raise IdNumberError(IdNumberReason.BAD_LENGTH, f"{len(first17)} characters, expected 17")
    if not _DIGITS.fullmatch(first17):
        raise IdNumberError(IdNumberReason.BAD_CHARACTER, "the first 17 characters must be digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def _clean(raw: str) -> str:
    """Undo what forms and spreadsheets do to numbers: stray spaces, full-width input, lower-case x."""
    return "".join(raw.split()).translate(_HALF_WIDTH)


def normalize_id_number(raw: str, *, today: date | None = None) -> str:
    """Return the canonical 18-character form of a number as people type it, or raise IdNumberError."""
    number = _clean(raw)
    if len(number) == 15:
        number = upgrade_legacy_id_number(number)
    validate_id_number(number, today=today)
    return number


def _check_shape(number: str) -> None:
    if not number:
        raise IdNumberError(IdNumberReason.EMPTY, "no number given")
    if len(number) != 18:
        raise IdNumberError(IdNumberReason.BAD_LENGTH, f"{len(number)} characters, expected 18")
    if not _CANONICAL.fullmatch(number):
        position, character = _first_bad_character(number)
        raise IdNumberError(
            IdNumberReason.BAD_CHARACTER,
            f"{character!r} at position {position}; only digits and a final X are allowed",
        )


def _first_bad_character(number: str) -> tuple[int, str]:
    for position, character in enumerate(number, start=1):
        final_x = position == len(number) and character == "X"
        if not (character in "0123456789" or final_x):
            return position, character
    raise AssertionError("no bad character in a number that failed the shape check")


def _check_region(number: str) -> None:
    if int(number[:2]) not in _PROVINCES:
        raise IdNumberError(
            IdNumberReason.BAD_REGION, f"province code {number[:2]} is not a province-level region"
        )


def _parse_birth_date(digits: str) -> date:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise IdNumberError(
            IdNumberReason.BAD_BIRTH_DATE, f"birth date {digits} is not a calendar date"
        ) from None
    if born < _EARLIEST_BIRTH_DATE:
        raise IdNumberError(IdNumberReason.BAD_BIRTH_DATE, f"birth date {digits} is before 1900")
    return born


def _check_birth_date(number: str, today: date | None) -> None:
    born = _parse_birth_date(number[6:14])
    latest = local_today() if today is None else today
    if born > latest:
        raise IdNumberError(
            IdNumberReason.FUTURE_BIRTH_DATE, f"birth date {born.isoformat()} is after {latest}"
        )


def _check_check_digit(number: str) -> None:
    expected = check_digit(number[:17])
    if number[17] != expected:
        raise IdNumberError(
            IdNumberReason.BAD_CHECK_DIGIT, f"check digit is {number[17]}, expected {expected}"
        )


def validate_id_number(number: str, *, today: date | None = None) -> None:
    """Accept only the canonical 18-character form, so stored numbers compare equal byte for byte."""
    _check_shape(number)
    _check_region(number)
    _check_birth_date(number, today)
    _check_check_digit(number)


def upgrade_legacy_id_number(number15: str) -> str:
    """Widen a pre-1999 15-digit number: its YYMMDD year is always 19YY and it has no check digit."""
    if len(number15) != 15:
        raise IdNumberError(IdNumberReason.BAD_LENGTH, f"{len(number15)} characters, expected 15")
    if not _DIGITS.fullmatch(number15):
        raise IdNumberError(
            IdNumberReason.BAD_CHARACTER, "a 15-character number must be all digits"
        )
    first17 = f"{number15[:6]}19{number15[6:]}"
    number = first17 + check_digit(first17)
    validate_id_number(number)
    return number


def birth_date_of(number: str) -> date:
    """Read the birth date from a canonical number (validated first, so garbage never yields a date)."""
    validate_id_number(number)
    return date.fromisoformat(f"{number[6:10]}-{number[10:12]}-{number[12:14]}")


def gender_of(number: str) -> Gender:
    """Read the gender from a canonical number: the 17th digit is odd for men, even for women."""
    validate_id_number(number)
    return Gender.MALE if int(number[16]) % 2 else Gender.FEMALE


def mask_id_number(number: str) -> str:
    """Hide the birth date and sequence for display; works on any 18 characters so quarantine can use it."""
    if len(number) != 18:
        raise IdNumberError(IdNumberReason.BAD_LENGTH, f"{len(number)} characters, expected 18")
    return f"{number[:6]}{'*' * 8}{number[14:]}"


def make_id_number(*, region: str, birth_date: date, sequence: int) -> str:
    """Build a valid number for demo data and tests; an even sequence gives a woman, odd a man."""
    if not (len(region) == 6 and _DIGITS.fullmatch(region)):
        raise IdNumberError(IdNumberReason.BAD_REGION, "region must be 6 digits")
    if isinstance(sequence, bool) or not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be an integer from 0 to 999, got {sequence!r}")
    born = f"{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}"
    first17 = f"{region}{born}{sequence:03d}"
    number = first17 + check_digit(first17)
    validate_id_number(number)
    return number
