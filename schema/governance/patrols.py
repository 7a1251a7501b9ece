"""Daily patrols (日常巡查): the patrol as GraphQL sees it, `recordPatrol`, and the building grids
nobody has walked today."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry import federation

from hub.governance import loading, patrols, queries
from schema.context import Info
from schema.governance.cases import Case, CaseDraftInput
from schema.governance.common import (
    KPI_READ,
    VISITS_WRITE,
    actor_of,
    check_aware,
    check_key,
    reading,
    write,
)
from schema.grid import GRIDS, Grid
from schema.loads import Batch, Load, loaded

FINDINGS = Batch(
    "patrol_findings",
    lambda c, ids, scope: loading.findings_by_patrol(c, ids, within_path=scope.within_path),
)


@strawberry.type(description="One walk of a grid by its responsible person (日常巡查).")
class Patrol:
    id: strawberry.ID
    walker: str = strawberry.field(description="The client (and person) that recorded it.")
    walker_name: str | None
    started_at: datetime
    ended_at: datetime
    day: date = strawberry.field(description="The civil day in China the walk started.")
    route_notes: str | None
    recorded_at: datetime
    grid_code: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Any) -> Patrol:
        return cls(
            id=strawberry.ID(row.id), walker=row.walker, walker_name=row.walker_name,
            started_at=row.started_at, ended_at=row.ended_at, day=row.day,
            route_notes=row.route_notes, recorded_at=row.recorded_at, grid_code=row.grid_code,
        )  # fmt: skip

    grid: Grid | None = loaded(
        Load(GRIDS, key="grid_code", convert=Grid.from_row), graphql_type=Grid | None
    )
    findings: list[Case] = loaded(
        Load(FINDINGS, key="id", convert=Case.from_row),
        graphql_type=list[Case],
        description="The cases the walk found (source PATROL), oldest first.",
    )


@strawberry.type
class PatrolQuery:
    @federation.field(
        requires_scopes=KPI_READ,
        description="Building grids in a grid's subtree with no patrol on `day` (default: today).",
    )
    async def grids_without_patrol(
        self, info: Info, grid: strawberry.ID, day: date | None = None
    ) -> list[Grid] | None:
        actor, code = actor_of(info), check_key(str(grid), "grid")
        async with reading(info) as session:
            found = await queries.grids_without_patrol(
                session, actor=actor, grid_code=code, day=day or info.context.today
            )
        return [Grid.from_row(row) for row in found]  # type: ignore[arg-type]  # same attributes


@strawberry.type
class PatrolMutation:
    @federation.field(
        requires_scopes=VISITS_WRITE,
        description=(
            "Record a walk of a grid of your subtree (at most 24 hours, not in the future); each "
            "finding opens a case there (source PATROL). Idempotent under `idempotencyKey`."
        ),
    )
    async def record_patrol(
        self,
        info: Info,
        idempotency_key: str,
        grid: strawberry.ID,
        started_at: Annotated[datetime, strawberry.argument(description="With its time zone.")],
        ended_at: Annotated[datetime, strawberry.argument(description="With its time zone.")],
        route_notes: str | None = None,
        walker_name: str | None = None,
        findings: list[CaseDraftInput] | None = None,
    ) -> Patrol | None:
        code = check_key(str(grid), "grid")
        started, ended = check_aware(started_at, "startedAt"), check_aware(ended_at, "endedAt")
        drafts = [finding.to_draft() for finding in findings or ()]
        patrol = await write(
            info,
            lambda session, actor: patrols.record_patrol(
                session, actor=actor, idempotency_key=idempotency_key, grid_code=code,
                started_at=started, ended_at=ended, route_notes=route_notes,
                walker_name=walker_name, findings=drafts,
            ),
        )  # fmt: skip
        return Patrol.from_row(patrol)
