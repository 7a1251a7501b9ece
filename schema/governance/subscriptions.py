"""Subscriptions over graphql-transport-ws: case events in the caller's subtree, and the cases
assigned to the caller's department.

Events come from the process's `EventBus` (`hub/governance/events.py`). Each event is checked
against the caller's row scope, then its case is read afresh (as it is now, through
`cases.get_case`, which decides row scope once more) with loaders of its own, and the
request's connection is given back while the subscription waits for the next event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry import federation

from hub.errors import NotFoundError, PermissionDeniedError, UnavailableError
from hub.governance import cases
from hub.governance.events import CaseEvent as Event
from hub.governance.events import EventBus
from hub.governance.permissions import Actor, ActorKind
from hub.storage.models import Grid
from schema.context import Info
from schema.governance.cases import Case
from schema.governance.common import CASES_READ, actor_of, check_key, reading
from schema.governance.enums import CaseEventKind

IN_SUBTREE = frozenset({CaseEventKind.REPORTED, CaseEventKind.ESCALATED, CaseEventKind.OVERDUE})
FOR_DEPARTMENTS = frozenset({CaseEventKind.ASSIGNED, CaseEventKind.OVERDUE})


@strawberry.type(description="Something that just happened to a case, and the case as it is now.")
class CaseEvent:
    kind: CaseEventKind
    at: datetime = strawberry.field(description="When it happened (OVERDUE: the deadline).")
    version: int = strawberry.field(description="The case's version the event left it at.")
    holding_grid_code: str = strawberry.field(description="The grid holding it after the event.")
    case: Case = strawberry.field(
        description="The case as it is when the event is delivered (perhaps moved on since)."
    )

    @classmethod
    def of(cls, event: Event, case: Case) -> CaseEvent:
        holding = event.holding_grid_path.rstrip("/").rsplit("/", 1)[-1]
        return cls(
            kind=event.kind, at=event.at, version=event.version, holding_grid_code=holding,
            case=case,
        )  # fmt: skip


def _bus(info: Info) -> EventBus:
    bus = info.context.events
    if bus is None:
        raise UnavailableError("case events are not available on this endpoint")
    return bus


def _may_hear(actor: Actor, event: Event) -> bool:
    if actor.kind is ActorKind.DEPARTMENT:
        return actor.department in event.departments
    return actor.reaches(event.grid_path)


async def _subtree(info: Info, actor: Actor, grid: strawberry.ID | None) -> str | None:
    """The path of the grid asked for (within the caller's reach), or None for all of it."""
    if grid is None:
        return None
    code = check_key(str(grid), "grid")
    async with reading(info) as session:
        found = await session.get(Grid, code)
    if found is None or (actor.kind is ActorKind.GRID and not actor.reaches(found.path)):
        raise NotFoundError(f"no grid {code!r} within your reach", grid_code=code)
    return found.path


async def _events(
    info: Info, actor: Actor, wanted: frozenset[CaseEventKind]
) -> AsyncGenerator[tuple[Event, Case], None]:
    """(event, case now) for each event of a wanted kind the caller may see, as it happens."""
    context = info.context
    subscription = await _bus(info).subscribe()
    try:
        await context.database.close()  # held by nobody while waiting
        async for event in subscription:
            if event.kind not in wanted or not _may_hear(actor, event):
                continue
            async with reading(info) as session:
                found = await cases.get_case(session, actor=actor, case_id=event.case_id)
            context.fresh_loads()  # the case's lists as they are now, not as first loaded
            if found is not None:
                yield event, Case.from_row(found)
            await context.database.close()
    finally:
        subscription.close()


@strawberry.type
class CaseSubscription:
    @federation.field(
        is_subscription=True,
        requires_scopes=CASES_READ,
        description=(
            "New, escalated and overdue cases in your grid's subtree (optionally one grid's "
            "subtree within it), as they happen; the dispatcher hears the whole district, a "
            "department the overdue cases assigned to it."
        ),
    )
    async def case_events(
        self, info: Info, grid: strawberry.ID | None = None
    ) -> AsyncGenerator[CaseEvent, None]:
        actor = actor_of(info)
        root = await _subtree(info, actor, grid)
        async for event, case in _events(info, actor, IN_SUBTREE):
            if root is None or event.grid_path.startswith(root):
                yield CaseEvent.of(event, case)

    @federation.field(
        is_subscription=True,
        requires_scopes=CASES_READ,
        description=(
            "Cases assigned to your department (ASSIGNED) and those of them that become "
            "overdue (OVERDUE), as it happens: for department officers."
        ),
    )
    async def department_cases(self, info: Info) -> AsyncGenerator[CaseEvent, None]:
        actor = actor_of(info)
        if actor.kind is not ActorKind.DEPARTMENT:
            raise PermissionDeniedError(
                "departmentCases is for department officers (health_officer, social_officer, "
                "education_officer, police_officer); subscribe to caseEvents instead"
            )
        async for event, case in _events(info, actor, FOR_DEPARTMENTS):
            if event.kind is CaseEventKind.OVERDUE or actor.department in event.new_departments:
                yield CaseEvent.of(event, case)
