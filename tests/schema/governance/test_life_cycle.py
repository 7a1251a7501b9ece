"""The case life cycle through GraphQL: a whole story told by its mutations, and every illegal
move refused as BAD_USER_INPUT naming the state and the moves allowed from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from hub.governance.enums import CaseAction, CaseState, Satisfaction
from hub.governance.states import allowed_actions
from hub.storage.models import Case
from hub.vocabulary import Department
from tests.governance.conftest import BUILDING, COMMUNITY, STREET, Governance, actor
from tests.schema.governance.support import BAD, CASE, OK, Staff, outcome


def data(result: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in result, result
    value: dict[str, Any] = result["data"][field]
    return value


async def test_a_case_lives_its_whole_life_through_the_mutations(
    world_now: Governance, staff: Staff
) -> None:
    residents, households = world_now.residents[BUILDING][:2], world_now.households[BUILDING][:1]
    case = data(
        await staff.report(
            "building", residentIds=residents, householdIds=households, groupAppeal=True
        ),
        "reportCase",
    )
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("building", "accept", {}),
        ("building", "escalate", {}),
        ("community", "accept", {}),
        ("community", "escalate", {}),
        ("street", "accept", {}),
        ("street", "escalate", {}),
        ("dispatcher", "accept", {}),
        ("dispatcher", "assign", {"departments": ["HEALTH", "POLICE"]}),
        ("health", "resolve", {}),
        ("building", "verify", {}),
        ("building", "close", {"satisfaction": "BASICALLY_SATISFIED"}),
        ("dispatcher", "reopen", {}),
    ]
    states, holders = [case["state"]], [case["holdingGrid"]["code"]]
    for name, verb, extra in steps:
        moved = await staff.move(name, verb, case, note=f"{verb} by {name}", **extra)
        case = data(moved, f"{verb}Case")
        states.append(case["state"])
        holders.append(case["holdingGrid"]["code"])

    assert states == [
        "REPORTED", "ACCEPTED", "ESCALATED", "ACCEPTED", "ESCALATED", "ACCEPTED", "ESCALATED",
        "ACCEPTED", "ASSIGNED", "RESOLVED", "VERIFIED", "CLOSED", "REOPENED",
    ]  # fmt: skip
    assert holders[:8] == [BUILDING] * 2 + [COMMUNITY] * 2 + [STREET] * 2 + ["410105"] * 2
    assert case["version"] == len(steps) + 1
    assert [t["action"] for t in case["history"]] == ["REPORT"] + [
        verb.upper() for _, verb, _ in steps
    ]
    assert case["history"][9]["actorDepartment"] == "HEALTH"
    assert case["history"][-1]["note"] == "reopen by dispatcher"
    assignments = [(a["kind"], a["department"]) for a in case["assignments"]]
    assert assignments == [("DEPARTMENT", "HEALTH"), ("DEPARTMENT", "POLICE")]
    assert case["satisfaction"] is None  # reopened: the rating no longer stands
    closed_trace = case["history"][11]
    assert closed_trace["action"] == "CLOSE"
    seen = data(await (await staff("building"))(INVOLVED, {"id": case["id"]}), "case")
    assert sorted(r["id"] for r in seen["residents"]) == sorted(residents)
    assert [h["id"] for h in seen["households"]] == households
    assert seen["groupAppeal"] is True


INVOLVED = "query($id: ID!) { case(id: $id) { groupAppeal residents { id } households { id } } }"


async def test_accepting_names_posts_of_the_holding_grids_board(
    world_now: Governance, staff: Staff
) -> None:
    case = data(await staff.report("building"), "reportCase")
    document = """
    mutation($id: ID!, $version: Int!, $key: String!, $posts: [Int!]) {
      acceptCase(id: $id, expectedVersion: $version, idempotencyKey: $key,
                 postMemberIds: $posts) { assignments { kind member { name post } } }
    }"""
    gql = await staff("building")
    variables = {"id": case["id"], "version": 1, "key": staff.key()}
    neighbours_chief = world_now.chiefs["410105001001002"]
    refused = await gql(document, {**variables, "posts": [neighbours_chief]})
    accepted = await gql(document, {**variables, "posts": [world_now.chiefs[BUILDING]]})

    assert outcome(refused, "acceptCase") == BAD
    assert "responsibility board" in refused["errors"][0]["message"]
    assert data(accepted, "acceptCase")["assignments"][0]["member"]["post"] == "GRID_CHIEF"


# --- illegal moves ---------------------------------------------------------------------------

WORKER = actor("grid_worker", BUILDING)
DISPATCHER = actor("district_dispatcher")
Setup = Callable[[Governance], Awaitable[Case]]


async def _reported(gov: Governance) -> Case:
    return await gov.report(WORKER)


async def _accepted(gov: Governance) -> Case:
    return await gov.move("accept", WORKER, await _reported(gov))


async def _escalated(gov: Governance) -> Case:
    return await gov.move("escalate", WORKER, await _accepted(gov))


async def _assigned(gov: Governance) -> Case:
    return await gov.assigned(Department.HEALTH)


async def _resolved(gov: Governance) -> Case:
    return await gov.move("resolve", WORKER, await _accepted(gov))


async def _verified(gov: Governance) -> Case:
    return await gov.move("verify", WORKER, await _resolved(gov))


async def _closed(gov: Governance) -> Case:
    case = await _verified(gov)
    return await gov.move("close", WORKER, case, satisfaction=Satisfaction.DISSATISFIED)


async def _reopened(gov: Governance) -> Case:
    return await gov.move("reopen", WORKER, await _closed(gov))


SETUPS: dict[CaseState, Setup] = {
    CaseState.REPORTED: _reported,
    CaseState.ACCEPTED: _accepted,
    CaseState.ESCALATED: _escalated,
    CaseState.ASSIGNED: _assigned,
    CaseState.RESOLVED: _resolved,
    CaseState.VERIFIED: _verified,
    CaseState.CLOSED: _closed,
    CaseState.REOPENED: _reopened,
}
EXTRA: dict[CaseAction, dict[str, Any]] = {
    CaseAction.ASSIGN: {"departments": ["POLICE"]},
    CaseAction.CLOSE: {"satisfaction": "SATISFIED"},
}
MOVES = [action for action in CaseAction if action is not CaseAction.REPORT]


@pytest.mark.parametrize("state", list(SETUPS))
async def test_every_illegal_move_from_a_state_is_bad_user_input_naming_the_legal_ones(
    world_now: Governance, staff: Staff, state: CaseState
) -> None:
    case = await SETUPS[state](world_now)
    assert case.state is state
    legal = allowed_actions(state, case.holding_level)
    illegal = [action for action in MOVES if action not in legal]
    assert illegal
    reference = {"id": case.id, "version": case.version}

    for action in illegal:
        verb = action.value.lower()
        result = await staff.move("dispatcher", verb, reference, **EXTRA.get(action, {}))
        assert outcome(result, f"{verb}Case") == BAD, (state, action, result)
        message = result["errors"][0]["message"]
        assert f"state {state}" in message, message
        assert f"allowed moves: {', '.join(legal) or 'none'}" in message, message
        assert result["errors"][0]["extensions"]["allowed"] == [str(a) for a in legal]

    unchanged = await world_now.case(case.id)
    assert (unchanged.state, unchanged.version) == (state, case.version)


async def test_a_reading_caller_sees_the_case_as_the_moves_left_it(
    world_now: Governance, staff: Staff
) -> None:
    case = await _verified(world_now)

    seen = data(await (await staff("street"))(CASE, {"id": case.id}), "case")

    assert seen["state"] == "VERIFIED"
    assert seen["allowedActions"] == ["CLOSE", "REOPEN"]
    assert [t["toState"] for t in seen["history"]] == [
        "REPORTED", "ACCEPTED", "RESOLVED", "VERIFIED"
    ]  # fmt: skip
    assert outcome(await (await staff("neighbour"))(CASE, {"id": case.id}), "case") != OK
    async with world_now.sessionmaker() as session:
        stored = await session.scalar(select(Case.version).where(Case.id == case.id))
    assert seen["version"] == stored
