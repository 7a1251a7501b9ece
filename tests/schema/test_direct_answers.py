"""Lookups answer the same with their statements run straight on asyncpg (hub/storage/direct.py,
PostgreSQL) as through SQLAlchemy: the same bytes, status and headers, the same audit event.

On SQLite both runs go through SQLAlchemy (the direct path is PostgreSQL's), so there the
test only shows that the switch changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage import direct
from hub.storage.models import AuditEvent
from tests.conftest import Clients, GraphQLClient, World
from tests.schema.test_batching import PAGE_360
from tests.schema.test_queries import add_full_records

FIELDS = "id name gender birthDate maskedIdNumber idNumber phone address grid { code name path }"
BY_ID = f"query ById($id: ID!) {{ resident(id: $id) {{ {FIELDS} }} }}"
BY_NUMBER = f"query ByNumber($n: String!) {{ resident(idNumber: $n) {{ {FIELDS} }} }}"
BASIC_BY_NUMBER = "query B($n: String!) { resident(idNumber: $n) { id name } }"
# What the audit trail records of a request, besides its time, id and chain position.
AUDITED = (
    "outcome",
    "operation_type",
    "operation_name",
    "document_hash",
    "variables",
    "resident_ids",
    "fields",
    "denied_paths",
    "error_codes",
    "roles",
    "grid_scope",
)
COMPARED_HEADERS = ("content-type", "content-length", "cache-control", "retry-after")
Case = tuple[GraphQLClient, str, dict[str, Any]]  # who asks, the document, its variables
Answer = tuple[int, bytes, dict[str, str | None], list[str], dict[str, Any]]


async def _event(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(AuditEvent.__table__).order_by(AuditEvent.id.desc()).limit(1)
            )
        ).one()
    return {name: getattr(row, name) for name in AUDITED}


async def _answer(
    client: GraphQLClient, engine: AsyncEngine, query: str, variables: dict[str, Any]
) -> Answer:
    response = await client.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=client.headers
    )
    headers = {name: response.headers.get(name) for name in COMPARED_HEADERS}
    names = sorted(name for name in response.headers if name not in ("date", "x-request-id"))
    return response.status_code, response.content, headers, names, await _event(engine)


async def _answered_both_ways(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, cases: list[Case]
) -> tuple[list[Answer], list[str]]:
    """Each case answered with the direct path on, then again with it off, the two answers
    required identical; the first answers and the SQL that ran straight on asyncpg for them."""
    ran_direct: list[str] = []
    monkeypatch.setattr(direct, "OBSERVERS", [ran_direct.append])
    answers = [
        await _answer(client, engine, query, variables) for client, query, variables in cases
    ]
    ran_first = list(ran_direct)
    monkeypatch.setattr(direct, "_direct", lambda _connection: False)
    for (client, query, variables), first in zip(cases, answers, strict=True):
        assert await _answer(client, engine, query, variables) == first, (query, variables)
    return answers, ran_first


async def test_lookups_answer_the_same_with_and_without_the_direct_path(
    world: World,
    clients: Clients,
    gql: GraphQLClient,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    is_postgres: bool,
) -> None:
    grids = await world.tree()
    here = await world.resident(grids["410105001001001"], phone=None, address=None)
    there = await world.resident(grids["410105002001002"])
    worker = await clients.graphql("grid_worker", grid="410105001")  # row scope: one street
    health = await clients.graphql("health_officer")  # no resident:pii
    cases: list[Case] = [
        (gql, BY_ID, {"id": here.id}),
        (gql, BY_NUMBER, {"n": here.id_number}),
        (gql, BY_NUMBER, {"n": there.id_number.lower()}),  # normalised: the same resident
        (gql, BY_ID, {"id": "no-such-resident"}),
        (gql, BY_NUMBER, {"n": "110105194912310021"}),  # a valid number nobody holds
        (gql, BY_NUMBER, {"n": "not a number"}),  # BAD_USER_INPUT
        (worker, BY_ID, {"id": here.id}),  # harvest quota counted
        (worker, BY_ID, {"id": there.id}),  # outside the caller's street: null
        (worker, BY_NUMBER, {"n": there.id_number}),
        (health, BASIC_BY_NUMBER, {"n": here.id_number}),  # FORBIDDEN
    ]
    answers, ran_direct = await _answered_both_ways(engine, monkeypatch, cases)
    # On PostgreSQL the first answers' SELECTs ran straight on asyncpg.
    assert any(sql.lstrip().startswith("SELECT") for sql in ran_direct) is is_postgres
    assert any(b'"errors"' in body for _, body, *_ in answers)
    assert any(b'"idNumber":"' in body for _, body, *_ in answers)


async def test_pages_answer_the_same_with_and_without_the_direct_path(
    world: World,
    gql: GraphQLClient,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    is_postgres: bool,
) -> None:
    """The page's batch loads (households, tags, every record table, grids) likewise."""
    grids = await world.tree()
    for index in range(12):
        building = grids["410105001001001" if index % 2 else "410105002001002"]
        await add_full_records(world, await world.resident(building))
    await world.resident(grids["410105001001002"], household_id=None)  # no records at all
    pages: list[Case] = [(gql, PAGE_360, {"first": 5}), (gql, PAGE_360, {"first": 20})]
    answers, ran_direct = await _answered_both_ways(engine, monkeypatch, pages)
    assert (len(ran_direct) > len(pages)) is is_postgres
    assert b'"errors"' not in answers[1][1]
    assert b'"flags":[{' in answers[1][1]
