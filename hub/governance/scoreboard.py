"""KPIs of grids for a period: each grid's figures rolled up its subtree, and siblings ranked.

The declarations and their SQL are `kpis`; this module runs them for a subtree, adds the
figures up the tree (`rollup`) and ranks children. Session first, keyword-only, read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import NotFoundError
from hub.governance import permissions
from hub.governance.kpis import KPIS, Figures, kpi_named, own_figures, query_parameters, value_of
from hub.governance.periods import Period
from hub.governance.permissions import Actor
from hub.governance.rollup import TreeGrid, path_range, roll_up, subtree
from hub.storage.base import utcnow
from hub.storage.models import Grid


@dataclass(frozen=True, slots=True)
class KpiValue:
    name: str
    numerator: int
    denominator: int
    value: float | None


@dataclass(frozen=True, slots=True)
class GridKpis:
    grid: TreeGrid
    values: dict[str, KpiValue]


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int  # competition ranking: 1, 2, 2, 4 …; grids without a value come last
    grid: TreeGrid
    value: KpiValue


async def subtree_kpis(
    session: AsyncSession,
    *,
    actor: Actor,
    grid_code: str,
    period: Period,
    now: datetime | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, GridKpis]:
    """Grid code → its KPIs for `period`, for every grid in the subtree of `grid_code`."""
    root = await _root(session, actor, grid_code)
    grids = await subtree(session, root_path=root.path)
    parameters = {**query_parameters(period, now=now or utcnow()), **path_range(root.path)}
    chosen = [kpi_named(name) for name in names] if names is not None else list(KPIS)
    totals: dict[str, dict[str, KpiValue]] = {grid.code: {} for grid in grids}
    for kpi in chosen:
        own = await own_figures(session, kpi, parameters)
        rolled = roll_up(grids, own, Figures(), Figures.__add__)
        for code, figures in rolled.items():
            totals[code][kpi.name] = KpiValue(
                kpi.name, figures.numerator, figures.denominator, value_of(kpi, figures)
            )
    return {grid.code: GridKpis(grid, totals[grid.code]) for grid in grids}


async def grid_kpis(
    session: AsyncSession,
    *,
    actor: Actor,
    grid_code: str,
    period: Period,
    now: datetime | None = None,
    names: Sequence[str] | None = None,
) -> GridKpis:
    """One grid's KPIs for `period`, covering its whole subtree."""
    every = await subtree_kpis(
        session, actor=actor, grid_code=grid_code, period=period, now=now, names=names
    )
    return every[grid_code]


async def rank_children(
    session: AsyncSession,
    *,
    actor: Actor,
    grid_code: str,
    kpi: str,
    period: Period,
    now: datetime | None = None,
) -> list[Ranked]:
    """The children of `grid_code` ranked on one KPI, best first (by its `higher_is_better`)."""
    declared = kpi_named(kpi)
    every = await subtree_kpis(
        session, actor=actor, grid_code=grid_code, period=period, now=now, names=[kpi]
    )
    children = [entry for entry in every.values() if entry.grid.parent_code == grid_code]
    sign = -1.0 if declared.higher_is_better else 1.0

    def key(entry: GridKpis) -> tuple[bool, float, str]:
        value = entry.values[kpi].value
        return (value is None, sign * (value or 0.0), entry.grid.code)

    ranked: list[Ranked] = []
    for position, entry in enumerate(sorted(children, key=key), start=1):
        value = entry.values[kpi]
        tied = ranked and ranked[-1].value.value == value.value and value.value is not None
        ranked.append(Ranked(ranked[-1].rank if tied else position, entry.grid, value))
    return ranked


async def _root(session: AsyncSession, actor: Actor, grid_code: str) -> Grid:
    grid = await session.get(Grid, grid_code)
    if grid is None:
        raise NotFoundError(f"no grid {grid_code!r}", grid_code=grid_code)
    permissions.require_kpi(actor, grid_code=grid.code, grid_path=grid.path)
    return grid
