"""Idempotency keys and expected versions through GraphQL, for every mutation.

A retry (same key, same arguments) answers what the first call produced and writes nothing;
the same key with other arguments is BAD_USER_INPUT; keys are per caller. A move made with a
version someone else already moved past is CONFLICT and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.governance.enums import Satisfaction
from hub.storage.base import Base
from hub.storage.models import Case, CaseTrace, JointMeeting, Patrol, Visit
from hub.vocabulary import Department
from tests.conftest import GraphQLClient
from tests.governance.conftest import BUILDING, COMMUNITY, Governance, actor
from tests.schema.governance.support import (
    BAD,
    CONFLICT,
    MEETING,
    MOVES,
    OK,
    PARTICIPANTS,
    PATROL,
    REPORT,
    VISIT,
    Staff,
    draft,
    outcome,
)

WORKER = actor("grid_worker", BUILDING)
DISPATCHER = actor("district_dispatcher")


async def count(gov: Governance, model: type[Base]) -> int:
    return await gov.count(model)


# --- creating mutations: the same key twice creates once --------------------------------------


def report_variables(gov: Governance, key: str) -> dict[str, Any]:
    return {"key": key, "grid": BUILDING, "case": draft()}


def visit_variables(gov: Governance, key: str) -> dict[str, Any]:
    household = gov.households[BUILDING][0]
    follow_up = draft(subtype="FIRE_HAZARD", description="楼道堆放杂物")
    return {"key": key, "household": household, "at": gov.now.isoformat(), "followUp": follow_up}


def patrol_variables(gov: Governance, key: str) -> dict[str, Any]:
    start = (gov.now - timedelta(hours=1)).isoformat()
    return {"key": key, "grid": BUILDING, "start": start, "end": gov.now.isoformat(),
            "findings": [draft(), draft(subtype="GAS_SAFETY", description="燃气管老化")]}  # fmt: skip


def meeting_variables(gov: Governance, key: str) -> dict[str, Any]:
    return {"key": key, "grid": COMMUNITY, "at": gov.now.isoformat(),
            "participants": PARTICIPANTS}  # fmt: skip


Variables = Callable[[Governance, str], dict[str, Any]]
CREATING: dict[str, tuple[str, str, Variables, type[Base], str]] = {
    # mutation: (document, staff name, variables, the model it creates, a field to change)
    "reportCase": (REPORT, "building", report_variables, Case, "grid"),
    "recordVisit": (VISIT, "building", visit_variables, Visit, "at"),
    "recordPatrol": (PATROL, "building", patrol_variables, Patrol, "start"),
    "recordJointMeeting": (MEETING, "community", meeting_variables, JointMeeting, "at"),
}


@pytest.mark.parametrize("mutation", list(CREATING))
async def test_a_retried_creation_answers_the_first_result_and_creates_nothing_more(
    world_now: Governance, staff: Staff, mutation: str
) -> None:
    document, name, variables, model, _ = CREATING[mutation]
    gql = await staff(name)
    arguments = variables(world_now, "phone-retry-1")
    cases_before = await count(world_now, Case)

    first = await gql(document, arguments)
    second = await gql(document, arguments)

    assert outcome(first, mutation) == OK, first
    assert second == first
    assert await count(world_now, model) == 1
    made = 1 if mutation == "reportCase" else 0
    made += 1 if mutation == "recordVisit" else 2 if mutation == "recordPatrol" else 0
    assert await count(world_now, Case) - cases_before == made


@pytest.mark.parametrize("mutation", list(CREATING))
async def test_a_key_used_again_for_other_arguments_is_bad_user_input(
    world_now: Governance, staff: Staff, mutation: str
) -> None:
    document, name, variables, model, changed = CREATING[mutation]
    gql = await staff(name)
    arguments = variables(world_now, "reused")
    first = await gql(document, arguments)
    other = dict(arguments)
    if changed == "grid":
        other["grid"] = "410105001001002"
    else:
        other[changed] = (world_now.now - timedelta(minutes=30 + 60)).isoformat()

    reused = await gql(document, other)

    assert outcome(first, mutation) == OK, first
    assert outcome(reused, mutation) == BAD
    assert "already used" in reused["errors"][0]["message"]
    assert reused["errors"][0]["extensions"]["field"] == "idempotencyKey"
    assert await count(world_now, model) == 1


async def test_keys_are_per_caller(world_now: Governance, staff: Staff) -> None:
    building, community = await staff("building"), await staff("community")

    first = await building(REPORT, report_variables(world_now, "same-key"))
    second = await community(REPORT, report_variables(world_now, "same-key"))

    assert outcome(first, "reportCase") == outcome(second, "reportCase") == OK
    assert first["data"]["reportCase"]["id"] != second["data"]["reportCase"]["id"]


# --- moves: retried once, conflicting when stale -----------------------------------------------

Setup = Callable[[Governance], Awaitable[Case]]


async def reported(gov: Governance) -> Case:
    return await gov.report(WORKER)


async def accepted(gov: Governance) -> Case:
    return await gov.move("accept", WORKER, await reported(gov))


async def at_district(gov: Governance) -> Case:
    case = await gov.escalated_to_district(WORKER)
    return await gov.move("accept", DISPATCHER, case)


async def resolved(gov: Governance) -> Case:
    return await gov.move("resolve", WORKER, await accepted(gov))


async def verified(gov: Governance) -> Case:
    return await gov.move("verify", WORKER, await resolved(gov))


async def closed(gov: Governance) -> Case:
    return await gov.move("close", WORKER, await verified(gov), satisfaction=Satisfaction.SATISFIED)


# verb: (set-up, staff name, extra variables)
MOVE_ROWS: dict[str, tuple[Setup, str, dict[str, Any]]] = {
    "accept": (reported, "building", {}),
    "escalate": (accepted, "building", {}),
    "assign": (at_district, "dispatcher", {"departments": ["HEALTH"]}),
    "resolve": (accepted, "building", {}),
    "verify": (resolved, "building", {}),
    "close": (verified, "building", {"satisfaction": "DISSATISFIED"}),
    "reopen": (closed, "building", {}),
}


def test_every_move_mutation_has_a_row() -> None:
    assert set(MOVE_ROWS) == set(MOVES)


@pytest.mark.parametrize("verb", list(MOVE_ROWS))
async def test_a_retried_move_moves_the_case_once(
    world_now: Governance, staff: Staff, verb: str
) -> None:
    setup, name, extra = MOVE_ROWS[verb]
    case = await setup(world_now)
    traces = await count(world_now, CaseTrace)
    gql = await staff(name)
    variables = {"id": case.id, "version": case.version, "key": "move-retry", **extra}

    first = await gql(MOVES[verb], variables)
    second = await gql(MOVES[verb], variables)

    assert outcome(first, f"{verb}Case") == OK, first
    assert second == first
    assert first["data"][f"{verb}Case"]["version"] == case.version + 1
    assert await count(world_now, CaseTrace) == traces + 1


@pytest.mark.parametrize("verb", list(MOVE_ROWS))
async def test_a_move_made_on_a_stale_version_is_a_conflict_and_changes_nothing(
    world_now: Governance, staff: Staff, verb: str
) -> None:
    setup, name, extra = MOVE_ROWS[verb]
    case = await setup(world_now)
    stale = {"id": case.id, "version": case.version - 1}

    result = await staff.move(name, verb, stale, **extra)

    assert outcome(result, f"{verb}Case") == CONFLICT
    error = result["errors"][0]
    assert "reload it" in error["message"]
    assert error["extensions"]["current_version"] == case.version
    after = await world_now.case(case.id)
    assert (after.state, after.version) == (case.state, case.version)


async def test_of_two_concurrent_movers_exactly_one_wins(
    world_now: Governance, staff: Staff
) -> None:
    case = await at_district(world_now)
    dispatcher = await staff("dispatcher")
    other = await staff.clients.graphql("district_dispatcher")

    async def assign(gql: GraphQLClient, department: str) -> dict[str, Any]:
        variables = {"id": case.id, "version": case.version, "key": f"race-{department}",
                     "departments": [department]}  # fmt: skip
        return await gql(MOVES["assign"], variables)

    results = await asyncio.gather(assign(dispatcher, "HEALTH"), assign(other, "POLICE"))

    assert sorted(outcome(r, "assignCase") for r in results) == [CONFLICT, OK]
    async with world_now.sessionmaker() as session:
        traces = await session.scalar(
            select(func.count()).select_from(CaseTrace).where(CaseTrace.case_id == case.id)
        )
    winner = next(r for r in results if outcome(r, "assignCase") == OK)
    assert traces == winner["data"]["assignCase"]["version"]
    assert [a["department"] for a in winner["data"]["assignCase"]["assignments"]] in (
        [Department.HEALTH.value],
        [Department.POLICE.value],
    )
