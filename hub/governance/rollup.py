"""Roll figures up the grid tree: each grid's own, plus everything below it.

KPIs and ledgers are counted per grid in SQL (one GROUP BY, index-friendly), then summed
building → community → street → district here, in one pass over the subtree's grids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.storage.grids import in_subtree, path_upper_bound
from hub.storage.models import Grid
from hub.vocabulary import GridLevel

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TreeGrid:
    code: str
    name: str
    level: GridLevel
    parent_code: str | None
    path: str

    @property
    def depth(self) -> int:
        return self.path.count("/")


async def subtree(session: AsyncSession, *, root_path: str) -> list[TreeGrid]:
    """Every grid in the subtree rooted at `root_path` (the root included), parents first."""
    query = select(Grid.code, Grid.name, Grid.level, Grid.parent_code, Grid.path).where(
        in_subtree(Grid.path, root_path)
    )
    grids = [TreeGrid(*row) for row in (await session.execute(query))]
    return sorted(grids, key=lambda grid: (grid.depth, grid.path))


def path_range(root_path: str) -> dict[str, str]:
    """The `:lo`/`:hi` parameters: paths in the subtree sort between them."""
    return {"lo": root_path, "hi": path_upper_bound(root_path)}


def roll_up(
    grids: list[TreeGrid], own: Mapping[str, T], zero: T, add: Callable[[T, T], T]
) -> dict[str, T]:
    """Grid code → its own figures plus those of every grid below it (within `grids`)."""
    totals = {grid.code: own.get(grid.code, zero) for grid in grids}
    for grid in sorted(grids, key=lambda grid: grid.depth, reverse=True):
        parent = grid.parent_code
        if parent is not None and parent in totals:
            totals[parent] = add(totals[parent], totals[grid.code])
    return totals
