"""Reporting periods: runs of civil days in China, and their bounds as UTC instants."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from hub.clock import CHINA_TIME
from hub.errors import BadInputError

MAX_PERIOD_DAYS = 366


class Granularity(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"  # Monday to Sunday (ISO 8601)
    MONTH = "MONTH"


@dataclass(frozen=True, slots=True)
class Period:
    """The civil days `start` … `end` (both included)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise BadInputError(f"a period ends on or after it starts ({self.start} > {self.end})")
        if self.days > MAX_PERIOD_DAYS:
            raise BadInputError(f"a period spans at most {MAX_PERIOD_DAYS} days")

    @classmethod
    def day(cls, day: date) -> Period:
        return cls(day, day)

    @classmethod
    def week_of(cls, day: date) -> Period:
        monday = day - timedelta(days=day.weekday())
        return cls(monday, monday + timedelta(days=6))

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def of(cls, granularity: Granularity, day: date) -> Period:
        if granularity is Granularity.DAY:
            return cls.day(day)
        if granularity is Granularity.WEEK:
            return cls.week_of(day)
        return cls.month(day.year, day.month)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> datetime:
        """The first instant of the period (00:00 China time on `start`)."""
        return start_of_day(self.start)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period (00:00 China time the day after `end`)."""
        return start_of_day(self.end + timedelta(days=1))

    def split(self, granularity: Granularity) -> list[Period]:
        """The day, week or month periods covering this one, each cut to fit inside it."""
        parts, day = [], self.start
        while day <= self.end:
            whole = Period.of(granularity, day)
            parts.append(Period(max(whole.start, self.start), min(whole.end, self.end)))
            day = whole.end + timedelta(days=1)
        return parts


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), CHINA_TIME)
