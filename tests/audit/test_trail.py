"""The audit trail through the hub's own stack: one event per request, recording what happened."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.verify import verify_all
from hub.storage import models
from hub.storage.models import AuditEvent
from hub.vocabulary import PersonFlagType
from tests.conftest import Clients, GraphQLClient, World

RESIDENT = (
    "query Lookup($id: ID!) { resident(id: $id) { name idNumber police { flags { flagType } } } }"
)


async def events(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list(
            (await connection.execute(select(AuditEvent.__table__).order_by(AuditEvent.id))).all()
        )


async def last_event(engine: AsyncEngine) -> Any:
    return (await events(engine))[-1]


async def test_allowed_request_records_residents_and_the_protected_fields_returned(
    world: World, clients: Clients, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    await world.record(
        models.PersonFlag,
        resident,
        flag_type=PersonFlagType.PETITIONER,
        flagged_on=resident.birth_date,
    )
    officer = await clients.graphql("police_officer")
    officer.headers.update(
        {"X-Request-User": quote("警员 张三"), "X-Request-Case": quote("案-2026-001")}
    )

    result = await officer(RESIDENT, {"id": resident.id})

    assert "errors" not in result
    event = await last_event(engine)
    assert event.outcome == "OK"
    assert event.operation_type == "query"
    assert event.operation_name == "Lookup"
    assert event.resident_ids == [resident.id]
    assert "PoliceProfile.flags" in event.fields
    assert "Resident.idNumber" in event.fields
    assert event.purpose == "test"
    assert (event.end_user, event.case_ref) == ("警员 张三", "案-2026-001")
    assert event.roles == ["police_officer"]
    assert event.endpoint == "graphql"
    assert len(event.document_hash) == 64


async def test_partly_denied_request_is_partial_with_the_denied_paths(
    world: World, clients: Clients, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    officer = await clients.graphql("health_officer")

    await officer(RESIDENT, {"id": resident.id})

    event = await last_event(engine)
    assert event.outcome == "PARTIAL"
    assert event.denied_paths == ["resident.police"]
    assert "PoliceProfile.flags" not in event.fields
    assert event.error_codes == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("role", "purpose", "outcome", "code"),
    [
        pytest.param("auditor", "test", "DENIED", "FORBIDDEN", id="no-scope"),
        pytest.param("health_officer", None, "DENIED", "PURPOSE_REQUIRED", id="no-purpose"),
    ],
)
async def test_refused_request_is_denied_and_returns_no_resident(
    world: World,
    clients: Clients,
    engine: AsyncEngine,
    role: str,
    purpose: str | None,
    outcome: str,
    code: str,
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    caller = await clients.graphql(role, purpose=purpose)

    await caller(RESIDENT, {"id": resident.id})

    event = await last_event(engine)
    assert (event.outcome, event.error_codes, event.resident_ids) == (outcome, [code], [])


@pytest.mark.parametrize(
    "document",
    [
        pytest.param("{ residents(first: ) { totalCount }", id="syntax-error"),
        pytest.param("{ residentz { totalCount } }", id="validation-error"),
        pytest.param('{ resident(idNumber: "123") { id } }', id="bad-argument"),
    ],
)
async def test_invalid_request_is_audited_as_invalid(
    gql: GraphQLClient, engine: AsyncEngine, document: str
) -> None:
    await gql(document)

    event = await last_event(engine)
    assert event.outcome == "INVALID"
    assert event.error_codes == ["BAD_USER_INPUT"]


async def test_request_without_a_token_is_audited_as_denied(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    response = await http.post(
        "/graphql", json={"query": "{ me { clientId } }"}, headers={"X-Request-Purpose": "probe"}
    )

    assert response.status_code == 401
    event = await last_event(engine)
    assert (event.outcome, event.error_codes, event.client_id) == (
        "DENIED",
        ["UNAUTHENTICATED"],
        None,
    )
    assert event.purpose == "probe"


@contextlib.asynccontextmanager
async def table_missing(engine: AsyncEngine, *names: str) -> AsyncIterator[None]:
    """The tables are away (renamed) inside the block: the database shared by tests survives."""
    async with engine.begin() as connection:
        for name in names:
            await connection.execute(text(f"ALTER TABLE {name} RENAME TO {name}_away"))
    try:
        yield
    finally:
        async with engine.begin() as connection:
            for name in names:
                await connection.execute(text(f"ALTER TABLE {name}_away RENAME TO {name}"))


async def test_hub_failure_is_audited_as_error(
    world: World, gql: GraphQLClient, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])

    async with table_missing(engine, "police_person_flags"):
        result = await gql(RESIDENT, {"id": resident.id})

    assert result["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert (await last_event(engine)).outcome == "ERROR"


async def test_id_numbers_and_phones_in_variables_are_stored_as_keyed_hashes(
    world: World, gql: GraphQLClient, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    query = (
        "query($n: String!, $p: String) { resident(idNumber: $n) { id } "
        "residents(filter: {namePrefix: $p}) { totalCount } }"
    )

    await gql(query, {"n": resident.id_number, "p": "13800001234"})

    event = await last_event(engine)
    stored = str(event.variables)
    assert resident.id_number not in stored
    assert "13800001234" not in stored
    assert event.variables["n"].startswith("hmac-sha256:")
    assert event.resident_ids == [resident.id]


async def test_every_request_appends_exactly_one_event_and_the_chain_verifies(
    world: World, gql: GraphQLClient, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    await world.resident(grids["410105001001001"])
    before = len(await events(engine))

    for _ in range(5):
        await gql("{ residents { totalCount } }")

    assert len(await events(engine)) == before + 5
    [report] = await verify_all(engine)
    assert report.ok, report
    assert report.events == before + 5


async def test_audit_store_failure_serves_no_data_with_503(
    world: World, gql: GraphQLClient, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    await gql("{ me { clientId } }")  # the chain exists; now its table goes away

    async with table_missing(engine, "audit_events"):
        response = await gql.http.post(
            "/graphql",
            json={"query": RESIDENT, "variables": {"id": resident.id}},
            headers=gql.headers,
        )

    assert response.status_code == 503
    body = response.json()
    assert body["data"] is None
    assert resident.name not in response.text
    assert "audit trail" in body["errors"][0]["message"]
