"""Bad input to the governance fields is BAD_USER_INPUT naming the problem, and writes nothing:
never INTERNAL_SERVER_ERROR, never a trace."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hub.storage.models import Case, CaseTrace, IdempotencyKey, Visit
from tests.governance.conftest import BUILDING, Governance, actor
from tests.schema.governance.support import BAD, REPORT, VISIT, Staff, draft

WORKER = actor("grid_worker", BUILDING)


def refused(result: dict[str, Any], *words: str) -> None:
    errors = result.get("errors") or []
    assert errors, result
    assert errors[0]["extensions"]["code"] == BAD, errors
    message = errors[0]["message"]
    assert all(word in message for word in words), message


LIST = "query($filter: CaseFilter, $first: Int!, $after: String) { cases(filter: $filter, first: $first, after: $after) { totalCount } }"


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        pytest.param({"filter": {"states": ["LOST"]}, "first": 5}, ["LOST"], id="unknown-state"),
        pytest.param({"filter": {"categories": ["X"]}, "first": 5}, ["X"], id="unknown-category"),
        pytest.param({"first": 501}, ["first", "500"], id="page-too-large"),
        pytest.param({"first": 0}, ["first"], id="page-empty"),
        pytest.param({"first": 5, "after": "not-a-cursor"}, ["cursor"], id="bad-cursor"),
        pytest.param({"filter": {"grid": "x" * 200}, "first": 5}, ["filter.grid"], id="long-id"),
    ],
)
async def test_bad_list_arguments_are_bad_user_input(
    world_now: Governance, staff: Staff, variables: dict[str, Any], words: list[str]
) -> None:
    refused(await (await staff("dispatcher"))(LIST, variables), *words)


async def test_an_unknown_state_in_the_document_is_bad_user_input(staff: Staff) -> None:
    result = await (await staff("dispatcher"))("{ cases(filter: {states: [LOST]}) { totalCount } }")

    refused(result, "LOST")


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        pytest.param({"description": ""}, ["description", "1 to 4000"], id="empty"),
        pytest.param({"description": "长" * 4001}, ["description", "4000"], id="too-long"),
        pytest.param({"description": "a\x00b"}, ["description", "control"], id="nul"),
        pytest.param({"subtype": "NOISE"}, ["NOISE", "LIVELIHOOD", "WORK_SAFETY"], id="subtype"),
        pytest.param({"attachments": ["abc"]}, ["SHA-256"], id="attachment"),
        pytest.param({"residentIds": ["nobody"]}, ["unknown resident"], id="resident"),
        pytest.param({"note": "注" * 2001}, ["note", "2000"], id="long-note"),
    ],
)
async def test_a_bad_draft_is_bad_user_input_and_reports_nothing(
    world_now: Governance, staff: Staff, overrides: dict[str, Any], words: list[str]
) -> None:
    gql = await staff("building")

    result = await gql(REPORT, {"key": "k", "grid": BUILDING, "case": draft(**overrides)})

    refused(result, *words)
    assert await world_now.count(Case) == 0
    assert await world_now.count(IdempotencyKey) == 0  # the key is free for a retry


async def test_a_too_long_note_on_a_move_is_bad_user_input(
    world_now: Governance, staff: Staff
) -> None:
    case = await world_now.report(WORKER)

    result = await staff.move("building", "accept", {"id": case.id, "version": 1}, note="x" * 2001)

    refused(result, "note", "2000")
    assert await world_now.count(CaseTrace) == 1


async def test_an_illegal_transition_is_bad_user_input(world_now: Governance, staff: Staff) -> None:
    case = await world_now.report(WORKER)

    result = await staff.move("building", "verify", {"id": case.id, "version": 1})

    refused(result, "REPORTED", "cannot VERIFY", "allowed moves: ACCEPT")


@pytest.mark.parametrize(
    ("at", "words"),
    [
        pytest.param("2026-08-03T09:00:00", ["$at", "time zone"], id="naive"),
        pytest.param("2999-01-01T00:00:00+08:00", ["future"], id="future"),
        pytest.param("yesterday", ["DateTime"], id="not-a-time"),
    ],
)
async def test_a_bad_visit_time_is_bad_user_input(
    world_now: Governance, staff: Staff, at: str, words: list[str]
) -> None:
    variables = {"key": "v", "household": world_now.households[BUILDING][0], "at": at}

    refused(await (await staff("building"))(VISIT, variables), *words)
    assert await world_now.count(Visit) == 0


async def test_a_naive_patrol_time_is_bad_user_input(world_now: Governance, staff: Staff) -> None:
    document = """mutation($start: DateTime!, $end: DateTime!) {
      recordPatrol(idempotencyKey: "p", grid: "410105001001001", startedAt: $start, endedAt: $end) { id }
    }"""
    end = world_now.now.replace(tzinfo=None)
    variables = {"start": (end - timedelta(hours=1)).isoformat(), "end": end.isoformat()}

    refused(await (await staff("building"))(document, variables), "$start", "time zone")


@pytest.mark.parametrize(
    ("period", "words"),
    [
        pytest.param('{month: "2026-13"}', ["2026-13", "YYYY-MM"], id="month"),
        pytest.param('{day: "2026-08-01", month: "2026-08"}', ["exactly one"], id="two"),
        pytest.param("{}", ["exactly one"], id="none"),
        pytest.param('{start: "2026-08-01"}', ["exactly one"], id="half-range"),
        pytest.param('{start: "2026-08-02", end: "2026-08-01"}', ["ends on or after"], id="back"),
        pytest.param('{start: "2024-01-01", end: "2026-01-01"}', ["366"], id="too-long"),
    ],
)
async def test_a_bad_period_is_bad_user_input(
    world_now: Governance, staff: Staff, period: str, words: list[str]
) -> None:
    document = f'{{ kpis(grid: "410105", period: {period}) {{ visits {{ value }} }} }}'

    refused(await (await staff("dispatcher"))(document), *words)


async def test_assigning_to_no_department_is_bad_user_input(
    world_now: Governance, staff: Staff
) -> None:
    case = await world_now.escalated_to_district(WORKER)
    case = await world_now.move("accept", actor("district_dispatcher"), case)

    result = await staff.move(
        "dispatcher", "assign", {"id": case.id, "version": case.version}, departments=[]
    )

    refused(result, "at least one department")
