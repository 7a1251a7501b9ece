"""The hub's notion of "today": the calendar day in China Standard Time (UTC+8).

Ages, birth-date checks and validity dates are civil dates in China; a UTC date would be
a day behind every morning before 08:00.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA_TIME = timezone(timedelta(hours=8), "CST")


def local_today() -> date:
    return datetime.now(CHINA_TIME).date()
