"""The access ledger records what the executor did: allowed, refused, returned — and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.ledger import AccessLedger
from hub.auth.caller import Caller
from hub.clock import local_today
from hub.crypto.store import field_keys
from hub.request_headers import Purpose
from hub.storage import models
from hub.storage.session import RequestDatabase
from hub.vocabulary import PersonFlagType
from schema.build import build_schema
from schema.context import Context
from tests.conftest import DISTRICT, World

UNIFIED = build_schema()
CORE = build_schema("core")
POLICE = build_schema("police")
EVERY_SCOPE = frozenset(
    {"resident:basic", "resident:pii", "grid:read", "police:read", "police:sensitive"}
)


async def run(
    engine: AsyncEngine,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    scopes: frozenset[str] = EVERY_SCOPE,
    grid_path: str | None = None,
    purpose: str | None = "test",
    schema: Any = UNIFIED,
) -> tuple[Any, AccessLedger]:
    caller = Caller(client_id="c", roles=("test",), scopes=scopes, grid_path=grid_path)
    context = Context(
        database=RequestDatabase(engine),
        caller=caller,
        today=local_today(),
        request_purpose=Purpose(purpose=purpose),
        fields=await field_keys(engine).ring(),
    )
    try:
        result = await schema.execute(query, variable_values=variables, context_value=context)
    finally:
        await context.database.close()
    return result, context.ledger


async def test_a_protected_field_is_allowed_once_however_often_it_resolves(
    world: World, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    for _ in range(3):
        await world.resident(grids["410105001001001"])

    result, ledger = await run(engine, "{ residents { edges { node { id name } } } }")

    assert result.errors is None
    assert ledger.allowed_fields == {"Query.residents", "Resident.name"}
    assert len(ledger.resident_ids) == 3
    assert ledger.refusals == []


async def test_a_refused_field_is_recorded_with_its_path_and_code(
    world: World, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    query = "query($id: ID!) { resident(id: $id) { name police { flags { note } } } }"

    result, ledger = await run(
        engine, query, {"id": resident.id}, scopes=frozenset({"resident:basic", "police:read"})
    )

    assert result.data["resident"]["police"]["flags"] is None
    assert ledger.denied_paths == ["resident.police.flags"]
    assert [refusal.code for refusal in ledger.refusals] == ["FORBIDDEN"]
    assert "PoliceProfile.flags" not in ledger.allowed_fields
    assert ledger.allowed_fields == {"Query.resident", "Resident.name", "Resident.police"}


async def test_without_a_purpose_resident_data_is_refused_as_purpose_required(
    world: World, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])

    _, ledger = await run(
        engine, "query($id: ID!) { resident(id: $id) { id } }", {"id": resident.id}, purpose=None
    )

    assert [(r.dotted, r.code) for r in ledger.refusals] == [("resident", "PURPOSE_REQUIRED")]
    assert ledger.resident_ids == set()


async def test_a_resident_is_returned_when_completed_whatever_fields_are_selected(
    world: World, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])

    _, only_id = await run(
        engine, "query($id: ID!) { resident(id: $id) { id } }", {"id": resident.id}
    )
    _, only_count = await run(engine, "{ residents { totalCount } }")

    assert only_id.resident_ids == {resident.id}
    assert only_count.resident_ids == set()  # counted, but no resident was handed out


async def test_a_resident_outside_the_callers_grid_is_never_recorded(
    world: World, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    inside = await world.resident(grids["410105001001001"])
    outside = await world.resident(grids["410105002001001"])

    result, ledger = await run(
        engine,
        "{ residents { edges { node { id } } } }",
        grid_path=grids["410105001001"].path,
    )

    assert [e["node"]["id"] for e in result.data["residents"]["edges"]] == [inside.id]
    assert ledger.resident_ids == {inside.id}
    assert outside.id not in ledger.resident_ids


async def test_an_argument_refusal_is_recorded_on_its_field(
    world: World, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])

    result, ledger = await run(
        engine,
        "query($n: String!) { resident(idNumber: $n) { id } }",
        {"n": resident.id_number},
        scopes=frozenset({"resident:basic"}),
    )

    assert result.data == {"resident": None}
    assert [(r.dotted, r.code) for r in ledger.refusals] == [("resident", "FORBIDDEN")]
    assert ledger.resident_ids == set()


async def test_entities_resolved_for_a_gateway_are_returned_residents(
    world: World, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    await world.record(
        models.PersonFlag,
        resident,
        flag_type=PersonFlagType.PETITIONER,
        flagged_on=resident.birth_date,
    )
    query = (
        "query($r: [_Any!]!) { _entities(representations: $r) "
        "{ ... on Resident { police { flags { flagType } } } } }"
    )
    representations = [
        {"__typename": "Resident", "id": resident.id},
        {"__typename": "Resident", "id": "r-unknown"},
    ]

    result, ledger = await run(engine, query, {"r": representations}, schema=POLICE)

    assert result.errors is None
    assert result.data["_entities"][1] is None
    assert ledger.resident_ids == {resident.id}
    assert ledger.allowed_fields == {"Resident.police", "PoliceProfile.flags"}


async def test_counts_and_grids_are_not_residents(world: World, engine: AsyncEngine) -> None:
    grids = await world.tree()
    await world.resident(grids["410105001001001"])

    result, ledger = await run(
        engine,
        "query($code: ID!) { grid(code: $code) { residentCount children { code } } }",
        {"code": DISTRICT},
        schema=CORE,
    )

    assert result.data["grid"]["residentCount"] == 1
    assert ledger.resident_ids == set()
    assert ledger.allowed_fields == {"Query.grid", "Grid.residentCount"}
