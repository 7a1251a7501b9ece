"""Home visits (入户走访): the visit as GraphQL sees it, `recordVisit`, and the households due one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry import federation

from hub.clock import local_today
from hub.governance import loading, queries, visits
from hub.governance.queries import DueHousehold as DueRow
from hub.storage import residents
from schema.context import Info
from schema.governance.cases import CASES, Case, CaseDraftInput
from schema.governance.common import (
    RESIDENT_BASIC,
    VISITS_WRITE,
    actor_of,
    check_aware,
    check_key,
    check_keys,
    reading,
    write,
)
from schema.grid import GRIDS, Grid
from schema.loads import Batch, Load, LoadScope, loaded
from schema.resident import HOUSEHOLDS, Household, Resident, resident_from_row


async def _residents_met(
    connection: AsyncConnection, visit_ids: Sequence[str], scope: LoadScope
) -> dict[str, list[Any]]:
    ids = await loading.resident_ids_by_visit(connection, visit_ids)
    wanted = sorted({resident for found in ids.values() for resident in found})
    rows = await residents.residents_by_id(
        connection, wanted, within_path=scope.within_path, fields=scope.fields
    )
    return {visit: [rows[r] for r in found if r in rows] for visit, found in ids.items()}


RESIDENTS_MET = Batch("visit_residents", _residents_met)


@strawberry.type(description="A home visit (入户走访) to one household.")
class Visit:
    id: strawberry.ID
    visitor: str = strawberry.field(description="The client (and person) that recorded it.")
    visitor_name: str | None
    visited_at: datetime
    visited_on: date = strawberry.field(description="The civil day in China.")
    findings: str | None
    recorded_at: datetime
    household_id: strawberry.Private[str]
    grid_code: strawberry.Private[str]
    follow_up_case_id: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: Any) -> Visit:
        return cls(
            id=strawberry.ID(row.id), visitor=row.visitor, visitor_name=row.visitor_name,
            visited_at=row.visited_at, visited_on=row.visited_on, findings=row.findings,
            recorded_at=row.recorded_at, household_id=row.household_id,
            grid_code=row.grid_code, follow_up_case_id=row.follow_up_case_id,
        )  # fmt: skip

    household: Household | None = loaded(
        Load(HOUSEHOLDS, key="household_id", convert=Household.from_row),
        graphql_type=Household | None,
        requires_scopes=RESIDENT_BASIC,
    )
    grid: Grid | None = loaded(
        Load(GRIDS, key="grid_code", convert=Grid.from_row),
        graphql_type=Grid | None,
        description="The household's building grid.",
    )
    residents_met: list[Resident] | None = loaded(
        Load(RESIDENTS_MET, key="id", convert=lambda row: resident_from_row(row, local_today())),
        graphql_type=list[Resident] | None,
        requires_scopes=RESIDENT_BASIC,
    )
    follow_up_case: Case | None = loaded(
        Load(CASES, key="follow_up_case_id", convert=Case.from_row),
        graphql_type=Case | None,
        description="The case the visit opened, if any.",
    )


@strawberry.type(description="A household visited fewer than twice this calendar year.")
class DueHousehold:
    household: Household
    grid_code: str
    visits_this_year: int
    last_visited_on: date | None

    @classmethod
    def from_due(cls, due: DueRow) -> DueHousehold:
        household = Household(
            id=strawberry.ID(due.household_id), number=due.number, address=due.address
        )
        return cls(
            household=household, grid_code=due.grid_code, visits_this_year=due.visits_this_year,
            last_visited_on=due.last_visited_on,
        )  # fmt: skip


@strawberry.type
class VisitQuery:
    @federation.field(
        requires_scopes=VISITS_WRITE,
        description=(
            "Households in a grid's subtree visited fewer than twice this year, least visited "
            "first: a grid worker's list of visits to make. `first` is 1 to 500."
        ),
    )
    async def households_due_visit(
        self, info: Info, grid: strawberry.ID, first: int = 100, offset: int = 0
    ) -> list[DueHousehold] | None:
        actor, code = actor_of(info), check_key(str(grid), "grid")
        async with reading(info) as session:
            due = await queries.households_due_visit(
                session, actor=actor, grid_code=code, today=info.context.today, first=first,
                offset=offset,
            )  # fmt: skip
        return [DueHousehold.from_due(row) for row in due]


@strawberry.type
class VisitMutation:
    @federation.field(
        requires_scopes=VISITS_WRITE,
        description=(
            "Record a home visit to a household of your subtree; `followUp` opens a case for "
            "it (source VISIT). Idempotent under `idempotencyKey`."
        ),
    )
    async def record_visit(
        self,
        info: Info,
        idempotency_key: str,
        household: strawberry.ID,
        visited_at: Annotated[
            datetime, strawberry.argument(description="With its time zone; not in the future.")
        ],
        resident_ids: list[strawberry.ID] | None = None,
        findings: str | None = None,
        visitor_name: str | None = None,
        follow_up: CaseDraftInput | None = None,
    ) -> Visit | None:
        household_id = check_key(str(household), "household")
        when = check_aware(visited_at, "visitedAt")
        met = check_keys(resident_ids, "residentIds")
        draft = follow_up.to_draft() if follow_up is not None else None
        visit = await write(
            info,
            lambda session, actor: visits.record_visit(
                session, actor=actor, idempotency_key=idempotency_key,
                household_id=household_id, visited_at=when, resident_ids=met,
                findings=findings, visitor_name=visitor_name, follow_up=draft,
            ),
        )  # fmt: skip
        return Visit.from_row(visit)
