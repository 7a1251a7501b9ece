"""Work ledgers (台账): what a grid and the grids below it did, counted per day, week or month.

Every piece of work leaves a trace: a visit (its day), a patrol (the day it started), a joint
meeting (the day it was held) and every case move (the day, China time, of its trace,
counted for the grid the actor acted for — the dispatcher's for the district). A ledger of a
grid counts the work done anywhere in its subtree; the buckets follow the calendar, cut to
the period asked for.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import NotFoundError
from hub.governance import permissions
from hub.governance.enums import CaseAction
from hub.governance.fieldwork import civil_day
from hub.governance.periods import Granularity, Period
from hub.governance.permissions import Actor
from hub.storage.grids import in_subtree
from hub.storage.models import CaseTrace, Grid, JointMeeting, Patrol, Visit

VISIT, PATROL, MEETING = "VISIT", "PATROL", "MEETING"
WORK_KINDS: tuple[str, ...] = (VISIT, PATROL, MEETING, *(action.value for action in CaseAction))
"""What a ledger counts: field work, meetings and each kind of case move."""


@dataclass(frozen=True, slots=True)
class LedgerBucket:
    period: Period
    counts: dict[str, int]  # every WORK_KINDS entry, zeros included

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def ledger(
    session: AsyncSession,
    *,
    actor: Actor,
    grid_code: str,
    period: Period,
    granularity: Granularity,
) -> list[LedgerBucket]:
    """The grid's ledger over `period`, one bucket per day, week or month."""
    grid = await session.get(Grid, grid_code)
    if grid is None:
        raise NotFoundError(f"no grid {grid_code!r}", grid_code=grid_code)
    permissions.require_kpi(actor, grid_code=grid.code, grid_path=grid.path)
    per_day = await work_per_day(session, root_path=grid.path, period=period)
    buckets = []
    for part in period.split(granularity):
        counts = Counter(dict.fromkeys(WORK_KINDS, 0))
        for (day, kind), count in per_day.items():
            if part.start <= day <= part.end:
                counts[kind] += count
        buckets.append(LedgerBucket(part, dict(counts)))
    return buckets


async def work_per_day(
    session: AsyncSession, *, root_path: str, period: Period
) -> Counter[tuple[date, str]]:
    """(day, work kind) → count, for all work in the subtree of `root_path` during `period`."""
    counts: Counter[tuple[date, str]] = Counter()
    dated = (
        (VISIT, Visit.visited_on, Visit.grid_path),
        (PATROL, Patrol.day, Patrol.grid_path),
        (MEETING, JointMeeting.held_on, JointMeeting.grid_path),
    )
    for kind, day_column, path_column in dated:
        query = (
            select(day_column, func.count())
            .where(
                day_column >= period.start,
                day_column <= period.end,
                in_subtree(path_column, root_path),
            )
            .group_by(day_column)
        )
        for day, count in await session.execute(query):
            counts[(day, kind)] += count
    moves = (
        select(CaseTrace.action, CaseTrace.at)
        .join(Grid, Grid.code == CaseTrace.actor_grid_code)
        .where(
            CaseTrace.at >= period.start_at,
            CaseTrace.at < period.end_at,
            in_subtree(Grid.path, root_path),
        )
    )
    for action, at in await session.execute(moves):
        counts[(civil_day(at), action.value)] += 1
    return counts
