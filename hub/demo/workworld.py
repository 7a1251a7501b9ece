"""The district as the demo month's work generator sees it, read from the database.

`hub seed` writes the population itself; `hub demo` gets it from the department simulators
through the connectors. Either way the month of work is generated from what is stored,
read in a fixed order, so the same database and seed give the same month.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.models import Grid, GridMember, Household, Resident
from hub.vocabulary import GridLevel


@dataclass(frozen=True, slots=True)
class Site:
    code: str
    name: str
    level: GridLevel
    parent_code: str | None
    path: str


@dataclass(slots=True)
class WorkWorld:
    grids: dict[str, Site]
    children: dict[str, list[str]] = field(default_factory=dict)  # grid → child codes
    members: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # (id, name)
    households: dict[str, list[str]] = field(default_factory=dict)  # building → households
    residents: dict[str, list[str]] = field(default_factory=dict)  # household → residents

    @property
    def district(self) -> Site:
        return next(grid for grid in self.grids.values() if grid.parent_code is None)

    def below(self, code: str) -> list[Site]:
        return [self.grids[child] for child in self.children.get(code, [])]


async def load_world(connection: AsyncConnection) -> WorkWorld:
    """Grids, boards, households and residents, each in key order."""
    query = select(Grid.code, Grid.name, Grid.level, Grid.parent_code, Grid.path)
    grids = {row.code: Site(*row) for row in await connection.execute(query.order_by(Grid.code))}
    world = WorkWorld(grids)
    children: dict[str, list[str]] = defaultdict(list)
    for site in grids.values():
        if site.parent_code is not None:
            children[site.parent_code].append(site.code)
    world.children = dict(children)
    members: dict[str, list[tuple[int, str]]] = defaultdict(list)
    rows = await connection.execute(
        select(GridMember.grid_code, GridMember.id, GridMember.name).order_by(GridMember.id)
    )
    for grid_code, member_id, name in rows:
        members[grid_code].append((member_id, name))
    world.members = dict(members)
    households: dict[str, list[str]] = defaultdict(list)
    homes = await connection.execute(
        select(Household.grid_code, Household.id).order_by(Household.id)
    )
    for grid_code, household_id in homes:
        households[grid_code].append(household_id)
    world.households = dict(households)
    residents: dict[str, list[str]] = defaultdict(list)
    people = await connection.execute(
        select(Resident.household_id, Resident.id)
        .where(Resident.household_id.is_not(None))
        .order_by(Resident.id)
    )
    for home, resident_id in people:
        if home is not None:
            residents[home].append(resident_id)
    world.residents = dict(residents)
    return world
