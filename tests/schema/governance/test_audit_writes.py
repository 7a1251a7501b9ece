"""Every governance write is in its request's audit event: the case and its transition.

`AuditEvent.writes` holds what the mutation's committed transaction inserted (ledger rule:
`hub/audit/ledger.py` `wrote`): each case move with its case id, action, from and to state;
each visit, patrol and meeting. Work refused or rolled back, and idempotent replays, write
nothing. The chain still verifies.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.verify import verify_all
from hub.storage.models import AuditEvent
from tests.governance.conftest import BUILDING, Governance
from tests.schema.governance.support import MOVES, VISIT, Staff, draft


async def last_event(engine: AsyncEngine) -> Any:
    async with engine.connect() as connection:
        query = select(AuditEvent.__table__).order_by(AuditEvent.id.desc()).limit(1)
        return (await connection.execute(query)).one()


async def test_each_case_move_is_audited_with_the_case_and_its_transition(
    world_now: Governance, staff: Staff, engine: AsyncEngine
) -> None:
    reported = (await staff.report("building"))["data"]["reportCase"]
    reporting = await last_event(engine)
    accepted = (await staff.move("building", "accept", reported))["data"]["acceptCase"]
    accepting = await last_event(engine)
    escalated = (await staff.move("building", "escalate", accepted))["data"]["escalateCase"]
    escalating = await last_event(engine)

    case = reported["id"]
    assert reporting.operation_type == "mutation"
    assert reporting.writes == [
        {"kind": "case", "id": case, "action": "REPORT", "to": "REPORTED", "seq": 1}
    ]
    assert accepting.writes == [
        {"kind": "case", "id": case, "action": "ACCEPT", "from": "REPORTED", "to": "ACCEPTED",
         "seq": 2}
    ]  # fmt: skip
    assert escalating.writes == [
        {"kind": "case", "id": case, "action": "ESCALATE", "from": "ACCEPTED",
         "to": escalated["state"], "seq": 3}
    ]  # fmt: skip
    [report] = await verify_all(engine)
    assert report.ok, report


async def test_a_visit_is_audited_with_the_case_it_opened(
    world_now: Governance, staff: Staff, engine: AsyncEngine
) -> None:
    gql = await staff("building")
    variables = {
        "key": staff.key(), "household": world_now.households[BUILDING][0],
        "at": world_now.now.isoformat(), "followUp": draft(subtype="FIRE_HAZARD"),
    }  # fmt: skip

    visit = (await gql(VISIT, variables))["data"]["recordVisit"]

    event = await last_event(engine)
    kinds = sorted((write["kind"], write["id"]) for write in event.writes)
    assert kinds == sorted([("visit", visit["id"]), ("case", visit["followUpCase"]["id"])])


async def test_replays_conflicts_and_refusals_write_nothing(
    world_now: Governance, staff: Staff, engine: AsyncEngine
) -> None:
    reported = (await staff.report("building"))["data"]["reportCase"]
    gql = await staff("building")
    arguments = {"id": reported["id"], "version": 1, "key": staff.key()}
    assert "errors" not in await gql(MOVES["accept"], arguments)

    await gql(MOVES["accept"], arguments)  # the same key again: a replay
    replay = await last_event(engine)
    stale = await staff.move("building", "accept", reported)  # version 1 again
    conflict = await last_event(engine)
    await staff.move("neighbour", "resolve", {"id": reported["id"], "version": 2})
    refused = await last_event(engine)

    assert (replay.writes, replay.outcome) == ([], "OK")
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert (conflict.writes, conflict.error_codes) == ([], ["CONFLICT"])
    assert refused.writes == []
    assert refused.outcome != "OK"


async def test_an_auditor_reads_the_writes_of_a_mutation(
    world_now: Governance, staff: Staff
) -> None:
    reported = (await staff.report("building"))["data"]["reportCase"]
    auditor = await staff("auditor")
    query = """query { auditEvents(filter: {operationName: "Report"}, first: 5) {
      edges { node { operationName writes { kind id action fromState toState seq } } } } }"""

    result = await auditor(query)

    assert "errors" not in result, result
    [edge] = result["data"]["auditEvents"]["edges"]
    assert edge["node"]["writes"] == [
        {"kind": "case", "id": reported["id"], "action": "REPORT", "fromState": None,
         "toState": "REPORTED", "seq": 1}
    ]  # fmt: skip
