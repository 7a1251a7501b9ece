"""Row scope for every action and every role: who may, who is refused, who cannot even see.

Each row of TABLE sets up a case (or target) where the action is legal, then lets every actor
try it on a fresh copy. OK: it works; FORBIDDEN: the actor sees the target but may not act
(or lacks the scope); NOT_FOUND: the target does not exist for that actor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from hub.errors import HubError, NotFoundError
from hub.governance import cases, meetings, patrols, scoreboard, visits
from hub.governance.enums import ParticipantKind, Satisfaction
from hub.governance.meetings import Participant
from hub.governance.periods import Period
from hub.governance.permissions import Actor
from hub.governance.queries import CaseFilter, list_cases
from hub.storage.models import Case
from hub.vocabulary import Department
from tests.governance.conftest import (
    BUILDING,
    COMMUNITY,
    NEIGHBOUR,
    OTHER_STREET,
    STREET,
    Governance,
    actor,
)

ACTORS: dict[str, Actor] = {
    "building": actor("grid_worker", BUILDING),
    "neighbour": actor("grid_worker", NEIGHBOUR),
    "community": actor("grid_worker", COMMUNITY),
    "street": actor("grid_worker", STREET),
    "clerk": actor("service_center_clerk", STREET),
    "far_clerk": actor("service_center_clerk", OTHER_STREET),
    "dispatcher": actor("district_dispatcher"),
    "health": actor("health_officer"),
    "police": actor("police_officer"),
    "auditor": actor("auditor"),
    "admin": actor("admin"),
}
OK, NO, NF = "OK", "FORBIDDEN", "NOT_FOUND"

Setup = Callable[[Governance], Awaitable[Any]]
Attempt = Callable[[Governance, Actor, Any], Awaitable[object]]


@dataclass(frozen=True)
class Row:
    setup: Setup
    attempt: Attempt
    expected: tuple[str, ...]  # in the order of ACTORS


async def nothing(gov: Governance) -> None:
    return None


async def reported(gov: Governance) -> Case:
    return await gov.report(ACTORS["building"])


async def accepted(gov: Governance) -> Case:
    return await gov.move("accept", ACTORS["building"], await reported(gov))


async def escalated_to(gov: Governance, levels: int) -> Case:
    case = await reported(gov)
    for grid in (BUILDING, COMMUNITY, STREET)[:levels]:
        case = await gov.move("accept", actor("grid_worker", grid), case)
        case = await gov.move("escalate", actor("grid_worker", grid), case)
    return case


async def at_district(gov: Governance) -> Case:
    return await gov.move("accept", ACTORS["dispatcher"], await escalated_to(gov, 3))


async def resolved(gov: Governance) -> Case:
    return await gov.move("resolve", ACTORS["building"], await accepted(gov))


async def verified(gov: Governance) -> Case:
    return await gov.move("verify", ACTORS["building"], await resolved(gov))


def move(verb: str, **arguments: Any) -> Attempt:
    async def attempt(gov: Governance, who: Actor, case: Case) -> object:
        return await gov.move(verb, who, case, **arguments)

    return attempt


async def read(gov: Governance, who: Actor, case: Case) -> object:
    found = await gov.run(lambda session: cases.get_case(session, actor=who, case_id=case.id))
    if found is None:
        raise NotFoundError("get_case returned None")
    return found


async def report(gov: Governance, who: Actor, _: object) -> object:
    return await gov.report(who, BUILDING)


async def visit(gov: Governance, who: Actor, _: object) -> object:
    return await gov.run(
        lambda session: visits.record_visit(
            session,
            actor=who,
            idempotency_key=gov.key(),
            household_id=gov.households[BUILDING][0],
            visited_at=gov.now,
            clock=gov.clock,
        )
    )


async def patrol(gov: Governance, who: Actor, _: object) -> object:
    return await gov.run(
        lambda session: patrols.record_patrol(
            session,
            actor=who,
            idempotency_key=gov.key(),
            grid_code=BUILDING,
            started_at=gov.now - timedelta(hours=1),
            ended_at=gov.now,
            clock=gov.clock,
        )
    )


async def meeting(gov: Governance, who: Actor, _: object) -> object:
    units = [Participant(ParticipantKind.GRID, grid_code=COMMUNITY)]
    units.append(Participant(ParticipantKind.OUTSIDE_UNIT, unit_name="供电所"))
    return await gov.run(
        lambda session: meetings.record_joint_meeting(
            session,
            actor=who,
            idempotency_key=gov.key(),
            grid_code=COMMUNITY,
            held_at=gov.now,
            topic="停电",
            decisions="抢修",
            participants=units,
            clock=gov.clock,
        )
    )


async def street_kpis(gov: Governance, who: Actor, _: object) -> object:
    period = Period.month(2026, 8)
    return await gov.run(
        lambda session: scoreboard.grid_kpis(
            session, actor=who, grid_code=STREET, period=period, now=gov.now
        )
    )


async def assigned_to_health(gov: Governance) -> Case:
    return await gov.move(
        "assign", ACTORS["dispatcher"], await at_district(gov), departments=[Department.HEALTH]
    )


async def closed(gov: Governance) -> Case:
    case = await verified(gov)
    return await gov.move("close", ACTORS["building"], case, satisfaction=Satisfaction.SATISFIED)


async def held_by_community(gov: Governance) -> Case:
    return await escalated_to(gov, 1)


async def held_by_street(gov: Governance) -> Case:
    return await escalated_to(gov, 2)


#            building neighbour community street clerk far_clerk dispatcher health police aud adm
TABLE: dict[str, Row] = {
    "report": Row(nothing, report, (OK, NO, OK, OK, OK, NO, OK, NO, NO, NO, NO)),
    "read": Row(reported, read, (OK, NF, OK, OK, OK, NF, OK, NF, NF, NF, NF)),
    "read-assigned": Row(assigned_to_health, read, (OK, NF, OK, OK, OK, NF, OK, OK, NF, NF, NF)),
    "accept-reported": Row(reported, move("accept"), (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO)),
    "escalate": Row(accepted, move("escalate"), (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO)),
    "resolve-in-grid": Row(accepted, move("resolve"), (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO)),
    "accept-at-community": Row(
        held_by_community, move("accept"), (NO, NF, OK, NO, NO, NF, NO, NF, NF, NO, NO)
    ),
    "accept-at-street": Row(
        held_by_street, move("accept"), (NO, NF, NO, OK, OK, NF, NO, NF, NF, NO, NO)
    ),
    "accept-at-district": Row(
        lambda gov: escalated_to(gov, 3),
        move("accept"),
        (NO, NF, NO, NO, NO, NF, OK, NF, NF, NO, NO),
    ),
    "assign": Row(
        at_district,
        move("assign", departments=[Department.POLICE]),
        (NO, NF, NO, NO, NO, NF, OK, NF, NF, NO, NO),
    ),
    "resolve-assigned": Row(
        assigned_to_health, move("resolve"), (NO, NF, NO, NO, NO, NF, OK, OK, NF, NO, NO)
    ),
    "verify": Row(resolved, move("verify"), (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO)),
    "close": Row(
        verified,
        move("close", satisfaction=Satisfaction.SATISFIED),
        (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO),
    ),
    "reopen": Row(closed, move("reopen"), (OK, NF, NO, NO, NO, NF, OK, NF, NF, NO, NO)),
    "record-visit": Row(nothing, visit, (OK, NF, OK, OK, NO, NO, NO, NO, NO, NO, NO)),
    "record-patrol": Row(nothing, patrol, (OK, NO, OK, OK, NO, NO, NO, NO, NO, NO, NO)),
    "record-meeting": Row(nothing, meeting, (NO, NO, OK, OK, OK, NO, OK, NO, NO, NO, NO)),
    "street-kpis": Row(nothing, street_kpis, (NF, NF, NF, OK, NO, NO, OK, NO, NO, OK, OK)),
}


@pytest.mark.parametrize("action", list(TABLE))
async def test_every_role_gets_exactly_the_reach_the_table_gives_it(
    gov: Governance, action: str
) -> None:
    row = TABLE[action]
    outcomes = []
    for name, who in ACTORS.items():
        target = await row.setup(gov)
        try:
            await row.attempt(gov, who, target)
            outcomes.append((name, OK))
        except HubError as error:
            outcomes.append((name, str(error.code)))

    assert outcomes == list(zip(ACTORS, row.expected, strict=True))


async def test_a_department_lists_only_the_cases_assigned_to_it(gov: Governance) -> None:
    assigned = await assigned_to_health(gov)
    await reported(gov)

    async def listed(who: Actor) -> list[str]:
        page = await gov.run(lambda session: list_cases(session, actor=who, now=gov.now))
        return [case.id for case in page.cases]

    assert await listed(ACTORS["health"]) == [assigned.id]
    assert await listed(ACTORS["police"]) == []
    assert len(await listed(ACTORS["dispatcher"])) == 2
    filtered = await gov.run(
        lambda session: list_cases(
            session, actor=ACTORS["dispatcher"], filters=CaseFilter(department=Department.HEALTH)
        )
    )
    assert [case.id for case in filtered.cases] == [assigned.id]
