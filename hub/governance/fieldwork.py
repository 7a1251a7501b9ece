"""What visits, patrols and meetings share: times, the civil day, replays, grids within reach."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import CHINA_TIME
from hub.errors import BadInputError, NotFoundError
from hub.governance.drafts import check_aware
from hub.storage.base import Base
from hub.storage.models import Grid

CLOCK_SKEW = timedelta(minutes=10)
"""How far in the future a device's clock may put a recorded time."""

Row = TypeVar("Row", bound=Base)


def civil_day(moment: datetime) -> date:
    """The calendar day in China on which `moment` falls (ledgers and KPIs count these)."""
    return moment.astimezone(CHINA_TIME).date()


def check_past(moment: datetime, field: str, now: datetime) -> datetime:
    check_aware(moment, field)
    if moment > now + CLOCK_SKEW:
        raise BadInputError(f"{field} {moment.isoformat()} lies in the future", field=field)
    return moment


async def grid_within(session: AsyncSession, code: str) -> Grid:
    grid = await session.get(Grid, code)
    if grid is None:
        raise NotFoundError(f"unknown grid {code!r}", grid_code=code)
    return grid


async def replayed(session: AsyncSession, model: type[Row], key: object) -> Row:
    """The row a first call with the same idempotency key created."""
    row = await session.get(model, key)
    if row is None:  # pragma: no cover - field records are never deleted
        raise NotFoundError(f"{model.__name__} {key!r} no longer exists")
    return row
