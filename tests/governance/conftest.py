"""Governance fixtures: a small grid tree with boards and households, actors of every role.

The tree (tests.conftest.World.tree): district 410105 → streets 410105001, 410105002 → one
community each (…001) → two buildings each (…001, …002). Every grid has a chief on its
board, every building two households of two residents. Actors carry exactly the scopes the
shipped policy gives their role, so the tests exercise the real policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.policy import load_policy
from hub.governance import actions, cases
from hub.governance.deadlines import Clock, default_deadlines
from hub.governance.drafts import CaseDraft
from hub.governance.enums import CaseCategory, CaseSubtype, Satisfaction
from hub.governance.permissions import Actor, actor_from_caller
from hub.storage.base import Base
from hub.storage.models import Case, Grid, GridMember, Household
from hub.vocabulary import Department, GridPost
from tests.conftest import World

T = TypeVar("T")

POLICY = load_policy()
DISTRICT = "410105"
STREET = "410105001"
COMMUNITY = "410105001001"
BUILDING = "410105001001001"
NEIGHBOUR = "410105001001002"  # the sibling building
OTHER_STREET = "410105002"
OTHER_BUILDING = "410105002001001"
T0 = datetime(2026, 8, 3, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in China


@dataclass(frozen=True)
class Caller:
    """The fields of hub.auth.caller.Caller that the governance domain reads."""

    client_id: str | None = None
    subject: str | None = None
    roles: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    grid_code: str | None = None
    grid_path: str | None = None


def actor(role: str, grid: str | None = None, *, name: str | None = None) -> Actor:
    """An actor holding exactly the shipped policy's scopes for `role`."""
    path = None
    if grid is not None:
        parts = [grid[:length] for length in range(6, len(grid) + 1, 3)]
        path = "".join(f"{part}/" for part in parts)
    client = name or f"{role}@{grid or 'district'}"
    caller = Caller(client, client, (role,), POLICY.roles[role].scopes, grid, path)
    return actor_from_caller(caller)


def draft(**overrides: Any) -> CaseDraft:
    values: dict[str, Any] = {
        "category": CaseCategory.WORK_SAFETY,
        "subtype": CaseSubtype.EBIKE_CHARGING,
        "description": "楼道内电动车飞线充电",
    }
    values.update(overrides)
    return CaseDraft(**values)


@dataclass
class Governance:
    """A world for case work: the tree, its boards and households, and a steppable clock."""

    sessionmaker: async_sessionmaker[AsyncSession]
    grids: dict[str, Grid]
    households: dict[str, list[str]]  # building code → household ids
    residents: dict[str, list[str]]  # building code → resident ids
    chiefs: dict[str, int]  # grid code → its chief's board member id
    now: datetime = T0
    keys: int = 0
    deadlines: Any = field(default_factory=default_deadlines)

    @property
    def clock(self) -> Clock:
        return Clock(now=self.now, deadlines=self.deadlines)

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def key(self) -> str:
        self.keys += 1
        return f"key-{self.keys}"

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """One unit of work: committed when it returns, rolled back when it raises."""
        async with self.sessionmaker() as session, session.begin():
            return await work(session)

    async def report(self, who: Actor, grid: str = BUILDING, **overrides: Any) -> Case:
        return await self.run(
            lambda session: cases.report_case(
                session,
                actor=who,
                idempotency_key=self.key(),
                grid_code=grid,
                draft=draft(**overrides),
                clock=self.clock,
            )
        )

    async def move(self, verb: str, who: Actor, case: Case, **arguments: Any) -> Case:
        """accept/escalate/assign/resolve/verify/close/reopen `case` at its current version."""
        function = getattr(actions, f"{verb}_case")
        return await self.run(
            lambda session: function(
                session,
                actor=who,
                case_id=case.id,
                expected_version=case.version,
                idempotency_key=self.key(),
                clock=self.clock,
                **arguments,
            )
        )

    async def case(self, case_id: str) -> Case:
        async def load(session: AsyncSession) -> Case:
            found = await session.get(Case, case_id)
            assert found is not None
            return found

        return await self.run(load)

    async def count(self, model: type[Base]) -> int:
        async def count(session: AsyncSession) -> int:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

        return await self.run(count)

    async def escalated_to_district(self, reporter: Actor) -> Case:
        """A case reported in BUILDING and escalated level by level to the district."""
        case = await self.report(reporter)
        for grid in (BUILDING, COMMUNITY, STREET):
            holder = actor("grid_worker", grid)
            case = await self.move("accept", holder, case)
            case = await self.move("escalate", holder, case)
        return case

    async def assigned(self, *departments: Department) -> Case:
        case = await self.escalated_to_district(actor("grid_worker", BUILDING))
        dispatcher = actor("district_dispatcher")
        case = await self.move("accept", dispatcher, case)
        return await self.move(
            "assign", dispatcher, case, departments=list(departments or [Department.HEALTH])
        )

    async def closed(self) -> Case:
        worker = actor("grid_worker", BUILDING)
        case = await self.report(worker)
        for verb in ("accept", "resolve", "verify"):
            case = await self.move(verb, worker, case)
        return await self.move("close", worker, case, satisfaction=Satisfaction.SATISFIED)


@pytest.fixture
async def gov(world: World, sessionmaker: async_sessionmaker[AsyncSession]) -> Governance:
    grids = await world.tree()
    chiefs: dict[str, int] = {}
    households: dict[str, list[str]] = {}
    residents: dict[str, list[str]] = {}
    async with sessionmaker() as session, session.begin():
        for code in grids:
            member = GridMember(
                grid_code=code,
                name=f"网格长{code}",
                post=GridPost.GRID_CHIEF,
                kind="CADRE",
                phone_encrypted=None,
            )
            session.add(member)
            await session.flush()
            chiefs[code] = member.id
        for code, grid in grids.items():
            if len(code) == 15:
                households[code] = []
                for n in (1, 2):
                    household = Household(
                        id=f"h-{code}-{n}",
                        number=f"{code}{n:02d}",
                        address=f"{grid.name}{n}室",
                        grid_code=code,
                    )
                    session.add(household)
                    households[code].append(household.id)
    for code, grid in grids.items():
        if len(code) == 15:
            residents[code] = []
            for household_id in households[code]:
                for _ in range(2):
                    resident = await world.resident(grid, household_id=household_id)
                    residents[code].append(resident.id)
    return Governance(sessionmaker, grids, households, residents, chiefs)
