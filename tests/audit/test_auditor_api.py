"""The auditor's GraphQL API: events, per-resident access reports, chain status."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage import models
from hub.storage.models import AuditEvent
from hub.vocabulary import PersonFlagType
from tests.conftest import Clients, World

EVENTS = """
query($filter: AuditFilter) {
  auditEvents(filter: $filter, first: 100) {
    totalCount
    edges { node { clientId roles purpose outcome residentIds fields deniedPaths operationName durationMs hash } }
  }
}
"""


async def test_auditor_filters_events_by_client_resident_field_and_outcome(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    seen, other = (
        await world.resident(grids["410105001001001"]),
        await world.resident(grids["410105002001001"]),
    )
    await world.record(
        models.PersonFlag, seen, flag_type=PersonFlagType.PETITIONER, flagged_on=seen.birth_date
    )
    police = await clients.graphql("police_officer", purpose="核查信访")
    health = await clients.graphql("health_officer")
    await police(
        "query Flags($id: ID!) { resident(id: $id) { police { flags { flagType } } } }",
        {"id": seen.id},
    )
    await health(
        "query($id: ID!) { resident(id: $id) { name police { flags { flagType } } } }",
        {"id": other.id},
    )
    police_client = (await police("{ me { clientId } }"))["data"]["me"]["clientId"]
    auditor = await clients.graphql("auditor", purpose=None)

    by_client = await auditor(EVENTS, {"filter": {"clientId": police_client}})
    by_resident = await auditor(EVENTS, {"filter": {"residentId": seen.id}})
    by_field = await auditor(EVENTS, {"filter": {"field": "PoliceProfile.flags"}})
    partial = await auditor(EVENTS, {"filter": {"outcome": "PARTIAL"}})

    assert by_client["data"]["auditEvents"]["totalCount"] == 2
    [seen_event] = [e["node"] for e in by_resident["data"]["auditEvents"]["edges"]]
    assert seen_event["purpose"] == "核查信访"
    assert seen_event["operationName"] == "Flags"
    assert seen_event["roles"] == ["police_officer"]
    assert [e["node"]["residentIds"] for e in by_field["data"]["auditEvents"]["edges"]] == [
        [seen.id]
    ]
    [denied] = [e["node"] for e in partial["data"]["auditEvents"]["edges"]]
    assert denied["deniedPaths"] == ["resident.police"]
    assert denied["residentIds"] == [other.id]


async def test_resident_access_report_lists_who_accessed_when_why_and_which_fields(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    worker = await clients.graphql("grid_worker", grid="410105001001001", purpose="入户走访")
    worker.headers["X-Request-Case"] = "visit-42"
    await worker("query($id: ID!) { resident(id: $id) { name phone } }", {"id": resident.id})
    auditor = await clients.graphql("auditor", purpose=None)

    result = await auditor(
        "query($id: ID!) { residentAccessReport(residentId: $id) { accesses { roles purpose caseRef fields outcome } } }",
        {"id": resident.id},
    )

    [access] = result["data"]["residentAccessReport"]["accesses"]
    assert access["roles"] == ["grid_worker"]
    assert access["purpose"] == "入户走访"
    assert access["caseRef"] == "visit-42"
    assert "Resident.phone" in access["fields"]
    assert access["outcome"] == "OK"


async def test_chain_status_turns_false_once_an_event_is_altered(
    clients: Clients, engine: AsyncEngine
) -> None:
    auditor = await clients.graphql("auditor", purpose=None)
    query = "{ auditChainStatus { verified events problem firstBadEventId } }"
    await auditor("{ me { clientId } }")

    before = await auditor(query)
    async with engine.begin() as connection:
        await connection.execute(
            update(AuditEvent).where(AuditEvent.seq == 1).values(outcome="DENIED")
        )
    after = await auditor(query)

    assert [chain["verified"] for chain in before["data"]["auditChainStatus"]] == [True]
    [broken] = after["data"]["auditChainStatus"]
    assert broken["verified"] is False
    assert "modified" in broken["problem"]


async def test_auditor_sees_no_resident_data(world: World, clients: Clients) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    auditor = await clients.graphql("auditor")

    result = await auditor("query($id: ID!) { resident(id: $id) { name } }", {"id": resident.id})

    assert result["data"]["resident"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
