"""ID numbers a connector must refuse or cannot place: the raw material of quarantine.

`invalid_id_number` spoils a real number in one of the ways clerks and old systems do (each
fails `hub.identity.validate_id_number` for a different reason); `unknown_id_number` makes a
well-formed number of someone the police register has never heard of.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from hub.identity import check_digit, make_id_number

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Collection

# Regions far from Jinshui, so an invented person never shares a region with a real one.
_FOREIGN_REGIONS = ("310104", "440305", "510107", "320106", "330106", "210102")


def _wrong_check_digit(number: str) -> str:
    expected = check_digit(number[:17])
    return number[:17] + ("0" if expected != "0" else "1")


def _truncated(number: str) -> str:
    return number[:17]


def _impossible_birth_date(number: str) -> str:
    first17 = f"{number[:10]}13{number[12:17]}"  # month 13, check digit made to fit
    return first17 + check_digit(first17)


def _letter_for_digit(number: str) -> str:
    return f"{number[:8]}O{number[9:]}"  # the letter O typed for a zero


SPOILERS: tuple[Callable[[str], str], ...] = (
    _wrong_check_digit,
    _truncated,
    _impossible_birth_date,
    _letter_for_digit,
)


def invalid_id_number(valid: str, variant: int) -> str:
    """`valid` spoiled by spoiler `variant` (taken modulo the number of spoilers)."""
    return SPOILERS[variant % len(SPOILERS)](valid)


def unknown_id_number(rng: random.Random, known: Collection[str]) -> str:
    """A valid number not in `known`: born 1950–2009 in a region no demo resident comes from."""
    while True:
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(60 * 365))
        region = rng.choice(_FOREIGN_REGIONS)
        number = make_id_number(region=region, birth_date=born, sequence=rng.randint(500, 999))
        if number not in known:
            return number
