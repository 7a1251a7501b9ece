"""Work lists: cases by subtree, state, category, overdue or department; households due a
visit; grids nobody has walked today. Each is row-scoped by `permissions`.

Session first, keyword-only after; read-only.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, exists, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError, NotFoundError
from hub.governance import permissions
from hub.governance.enums import CaseCategory, CaseState
from hub.governance.fieldwork import civil_day
from hub.governance.permissions import Actor
from hub.storage.base import utcnow
from hub.storage.grids import in_subtree
from hub.storage.models import Case, CaseAssignment, Grid, Household, Patrol, Visit
from hub.vocabulary import Department, GridLevel

MAX_PAGE = 500
VISITS_PER_YEAR = 2
"""Every household is to be visited at least this often in a calendar year."""
PATROLLED_LEVEL = GridLevel.BUILDING
"""The grids walked every day."""


@dataclass(frozen=True, slots=True)
class CaseFilter:
    grid_code: str | None = None  # reported in this grid's subtree (None: all within reach)
    held_by: str | None = None  # held by this very grid now (a level's in-tray)
    states: tuple[CaseState, ...] = ()
    categories: tuple[CaseCategory, ...] = ()
    overdue: bool | None = None
    department: Department | None = None  # assigned to this department
    group_appeal: bool | None = None


@dataclass(frozen=True, slots=True)
class CasePage:
    cases: list[Case]
    next_cursor: str | None  # pass as `after` for the next page; None on the last


async def list_cases(
    session: AsyncSession,
    *,
    actor: Actor,
    filters: CaseFilter | None = None,
    now: datetime | None = None,
    first: int = 50,
    after: str | None = None,
) -> CasePage:
    """Cases within the actor's reach matching `filters`, newest report first."""
    query = await _case_query(session, actor, filters or CaseFilter(), now or utcnow())
    query = query.order_by(Case.reported_at.desc(), Case.id.desc()).limit(_page(first) + 1)
    if after is not None:
        reported_at, case_id = _decode(after)
        query = query.where(tuple_(Case.reported_at, Case.id) < tuple_(reported_at, case_id))
    cases = list(await session.scalars(query))
    more = len(cases) > _page(first)
    cases = cases[: _page(first)]
    return CasePage(cases, _encode(cases[-1]) if more else None)


async def count_cases(
    session: AsyncSession,
    *,
    actor: Actor,
    filters: CaseFilter | None = None,
    now: datetime | None = None,
) -> int:
    query = await _case_query(session, actor, filters or CaseFilter(), now or utcnow())
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def _case_query(
    session: AsyncSession, actor: Actor, filters: CaseFilter, now: datetime
) -> Select[Case]:
    conditions: list[ColumnElement[bool]] = [permissions.readable_cases(actor)]
    if filters.grid_code is not None:
        grid = await _reachable_grid(session, actor, filters.grid_code)
        conditions.append(in_subtree(Case.grid_path, grid.path))
    if filters.held_by is not None:
        conditions.append(Case.holding_grid_code == filters.held_by)
    if filters.states:
        conditions.append(Case.state.in_(filters.states))
    if filters.categories:
        conditions.append(Case.category.in_(filters.categories))
    if filters.overdue is not None:
        late = and_(Case.due_at.is_not(None), Case.due_at < now)
        conditions.append(late if filters.overdue else ~late)
    if filters.department is not None:
        assigned = select(CaseAssignment.id).where(
            CaseAssignment.case_id == Case.id, CaseAssignment.department == filters.department
        )
        conditions.append(exists(assigned))
    if filters.group_appeal is not None:
        conditions.append(Case.group_appeal.is_(filters.group_appeal))
    return select(Case).where(*conditions)


# --- households due a visit, grids without a patrol --------------------------------------------


@dataclass(frozen=True, slots=True)
class DueHousehold:
    household_id: str
    number: str
    address: str
    grid_code: str
    visits_this_year: int
    last_visited_on: date | None


async def households_due_visit(
    session: AsyncSession,
    *,
    actor: Actor,
    grid_code: str,
    today: date | None = None,
    first: int = 100,
    offset: int = 0,
) -> list[DueHousehold]:
    """Households in the subtree visited fewer than twice this year, least visited first."""
    grid = await _reachable_grid(session, actor, grid_code)
    permissions.require_field_work(
        actor, grid_code=grid.code, grid_path=grid.path, doing="listing households due a visit"
    )
    day = today or civil_day(utcnow())
    counted = (
        select(
            Visit.household_id,
            func.count().label("visits"),
            func.max(Visit.visited_on).label("last"),
        )
        .where(
            Visit.visited_on >= date(day.year, 1, 1),
            Visit.visited_on <= day,
            in_subtree(Visit.grid_path, grid.path),
        )
        .group_by(Visit.household_id)
        .subquery()
    )
    visits = func.coalesce(counted.c.visits, 0)
    query = (
        select(Household.id, Household.number, Household.address, Household.grid_code)
        .add_columns(visits, counted.c.last)
        .join(Grid, Grid.code == Household.grid_code)
        .outerjoin(counted, counted.c.household_id == Household.id)
        .where(in_subtree(Grid.path, grid.path), visits < VISITS_PER_YEAR)
        .order_by(visits, counted.c.last, Household.number)
        .limit(_page(first))
        .offset(max(0, offset))
    )
    return [DueHousehold(*row) for row in (await session.execute(query))]


async def grids_without_patrol(
    session: AsyncSession, *, actor: Actor, grid_code: str, day: date | None = None
) -> list[Grid]:
    """Building grids in the subtree with no patrol on `day` (today, China time)."""
    grid = await session.get(Grid, grid_code)
    if grid is None:
        raise NotFoundError(f"no grid {grid_code!r}", grid_code=grid_code)
    permissions.require_kpi(actor, grid_code=grid.code, grid_path=grid.path)
    walked = select(Patrol.id).where(
        Patrol.grid_code == Grid.code, Patrol.day == (day or civil_day(utcnow()))
    )
    query = (
        select(Grid)
        .where(in_subtree(Grid.path, grid.path), Grid.level == PATROLLED_LEVEL, ~exists(walked))
        .order_by(Grid.path)
    )
    return list(await session.scalars(query))


# --- helpers -----------------------------------------------------------------------------------


async def _reachable_grid(session: AsyncSession, actor: Actor, grid_code: str) -> Grid:
    grid = await session.get(Grid, grid_code)
    within = actor.kind is not permissions.ActorKind.GRID or (
        grid is not None and actor.reaches(grid.path)
    )
    if grid is None or not within:
        raise NotFoundError(f"no grid {grid_code!r} within your reach", grid_code=grid_code)
    return grid


def _page(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise BadInputError(f"first must be 1 to {MAX_PAGE}", field="first")
    return first


def _encode(case: Case) -> str:
    raw = f"{case.reported_at.isoformat()}|{case.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        reported_at = datetime.fromisoformat(stamp)
    except (ValueError, UnicodeDecodeError):
        raise BadInputError("after is not a cursor this list returned", field="after") from None
    if reported_at.tzinfo is None:
        raise BadInputError("after is not a cursor this list returned", field="after")
    return reported_at, case_id
