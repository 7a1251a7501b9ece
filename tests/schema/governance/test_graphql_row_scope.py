"""Row scope through GraphQL: every mutation (and the reads beside them) × every role.

The same table as tests/governance/test_row_scope.py, one layer up: each row sets up a case
(or nothing) where the action is legal, then every caller tries it through /graphql with a
real token of its role on a fresh copy. OK: it works; FORBIDDEN: the caller sees the target
but may not act, or its token lacks the field's scope (@requiresScopes); NOT_FOUND: the
target does not exist for it. Where GraphQL answers differently from the service layer it is
because the field's declared scope refuses first (reads by auditors and admins).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from hub.governance.enums import Satisfaction
from hub.storage.models import Case
from hub.vocabulary import Department
from tests.governance.conftest import BUILDING, COMMUNITY, STREET, Governance, actor
from tests.schema.governance.support import (
    CASE,
    MEETING,
    NF,
    NO,
    OK,
    PARTICIPANTS,
    PATROL,
    STAFF,
    VISIT,
    Staff,
    outcome,
)

Setup = Callable[[Governance], Awaitable[Any]]
Attempt = Callable[[Governance, Staff, str, Any], Awaitable[str]]

WORKER = actor("grid_worker", BUILDING)
DISPATCHER = actor("district_dispatcher")


@dataclass(frozen=True)
class Row:
    setup: Setup
    attempt: Attempt
    expected: tuple[str, ...]  # in the order of STAFF


async def nothing(gov: Governance) -> None:
    return None


async def reported(gov: Governance) -> Case:
    return await gov.report(WORKER)


async def accepted(gov: Governance) -> Case:
    return await gov.move("accept", WORKER, await reported(gov))


async def escalated_to(gov: Governance, levels: int) -> Case:
    case = await reported(gov)
    for grid in (BUILDING, COMMUNITY, STREET)[:levels]:
        case = await gov.move("accept", actor("grid_worker", grid), case)
        case = await gov.move("escalate", actor("grid_worker", grid), case)
    return case


async def at_district(gov: Governance) -> Case:
    return await gov.move("accept", DISPATCHER, await escalated_to(gov, 3))


async def assigned_to_health(gov: Governance) -> Case:
    case = await at_district(gov)
    return await gov.move("assign", DISPATCHER, case, departments=[Department.HEALTH])


async def resolved(gov: Governance) -> Case:
    return await gov.move("resolve", WORKER, await accepted(gov))


async def verified(gov: Governance) -> Case:
    return await gov.move("verify", WORKER, await resolved(gov))


async def closed(gov: Governance) -> Case:
    return await gov.move("close", WORKER, await verified(gov), satisfaction=Satisfaction.SATISFIED)


def move(verb: str, **variables: Any) -> Attempt:
    async def attempt(gov: Governance, staff: Staff, name: str, case: Case) -> str:
        result = await staff.move(name, verb, {"id": case.id, "version": case.version}, **variables)
        return outcome(result, f"{verb}Case")

    return attempt


async def read(gov: Governance, staff: Staff, name: str, case: Case) -> str:
    return outcome(await (await staff(name))(CASE, {"id": case.id}), "case")


async def report(gov: Governance, staff: Staff, name: str, _: object) -> str:
    return outcome(await staff.report(name, BUILDING), "reportCase")


async def visit(gov: Governance, staff: Staff, name: str, _: object) -> str:
    variables = {
        "key": staff.key(),
        "household": gov.households[BUILDING][0],
        "at": gov.now.isoformat(),
    }
    return outcome(await (await staff(name))(VISIT, variables), "recordVisit")


async def patrol(gov: Governance, staff: Staff, name: str, _: object) -> str:
    variables = {
        "key": staff.key(),
        "grid": BUILDING,
        "start": (gov.now - timedelta(hours=1)).isoformat(),
        "end": gov.now.isoformat(),
    }
    return outcome(await (await staff(name))(PATROL, variables), "recordPatrol")


async def meeting(gov: Governance, staff: Staff, name: str, _: object) -> str:
    variables = {
        "key": staff.key(),
        "grid": COMMUNITY,
        "at": gov.now.isoformat(),
        "participants": PARTICIPANTS,
    }
    return outcome(await (await staff(name))(MEETING, variables), "recordJointMeeting")


async def street_kpis(gov: Governance, staff: Staff, name: str, _: object) -> str:
    document = (
        f'{{ kpis(grid: "{STREET}", period: {{month: "2026-08"}}) {{ visits {{ value }} }} }}'
    )
    return outcome(await (await staff(name))(document), "kpis")


#            building neighbour community street clerk far_clerk dispatcher health police aud adm
TABLE: dict[str, Row] = {
    "reportCase": Row(nothing, report, (OK, NO, OK, OK, OK, NO, OK, NO, NO, NO, NO)),
    "case": Row(reported, read, (OK, NF, OK, OK, OK, NF, OK, NF, NF, NO, NO)),
    "case-assigned": Row(assigned_to_health, read, (OK, NF, OK, OK, OK, NF, OK, OK, NF, NO, NO)),
    "acceptCase": Row(reported, move("accept"), (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO)),
    "escalateCase": Row(accepted, move("escalate"), (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO)),
    "resolveCase-in-grid": Row(
        accepted, move("resolve"), (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO)
    ),
    "acceptCase-at-community": Row(
        lambda gov: escalated_to(gov, 1),
        move("accept"),
        (NO, NF, OK, NO, NO, NF, NO, NF, NF, NO, NO),
    ),
    "acceptCase-at-street": Row(
        lambda gov: escalated_to(gov, 2),
        move("accept"),
        (NO, NF, NO, OK, OK, NF, NO, NF, NF, NO, NO),
    ),
    "acceptCase-at-district": Row(
        lambda gov: escalated_to(gov, 3),
        move("accept"),
        (NO, NF, NO, NO, NO, NF, OK, NF, NF, NO, NO),
    ),
    "assignCase": Row(
        at_district,
        move("assign", departments=["POLICE"]),
        (NO, NF, NO, NO, NO, NF, OK, NF, NF, NO, NO),
    ),
    "resolveCase-assigned": Row(
        assigned_to_health, move("resolve"), (NO, NF, NO, NO, NO, NF, OK, OK, NF, NO, NO)
    ),
    "verifyCase": Row(resolved, move("verify"), (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO)),
    "closeCase": Row(
        verified,
        move("close", satisfaction="SATISFIED"),
        (OK, NF, NO, NO, NO, NF, NO, NF, NF, NO, NO),
    ),
    "reopenCase": Row(closed, move("reopen"), (OK, NF, NO, NO, NO, NF, OK, NF, NF, NO, NO)),
    "recordVisit": Row(nothing, visit, (OK, NF, OK, OK, NO, NO, NO, NO, NO, NO, NO)),
    "recordPatrol": Row(nothing, patrol, (OK, NO, OK, OK, NO, NO, NO, NO, NO, NO, NO)),
    "recordJointMeeting": Row(nothing, meeting, (NO, NO, OK, OK, OK, NO, OK, NO, NO, NO, NO)),
    "kpis": Row(nothing, street_kpis, (NF, NF, NF, OK, NO, NO, OK, NO, NO, OK, OK)),
}


@pytest.mark.parametrize("action", list(TABLE))
async def test_every_role_gets_exactly_the_reach_the_table_gives_it_through_graphql(
    world_now: Governance, staff: Staff, action: str
) -> None:
    row = TABLE[action]
    outcomes = []
    for name in STAFF:
        target = await row.setup(world_now)
        outcomes.append((name, await row.attempt(world_now, staff, name, target)))

    assert outcomes == list(zip(STAFF, row.expected, strict=True))


def test_the_table_covers_every_mutation_of_the_schema() -> None:
    from tests.auth.test_authorization_matrix import object_type

    covered = {action.split("-")[0] for action in TABLE}
    not_grid_work = {"retryQuarantine"}  # the admin console's: no grid, admins only
    assert set(object_type("Mutation").fields) - not_grid_work <= covered
