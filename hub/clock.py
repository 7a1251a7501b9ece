"""The hub's notion of "today": the calendar day in China Standard Time (UTC+8).

Ages, birth-date checks and validity dates are civil dates in China; a UTC date would be
a day behind every morning before 08:00.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA_TIME = timezone(timedelta(hours=8), "CST")


def local_today() -> date:
    return datetime.now(CHINA_TIME).date()


def age_on(birth_date: date, day: date) -> int:
    """Whole years between `birth_date` and `day`."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (or earlier); 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
