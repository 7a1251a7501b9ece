"""What the schema says about itself: in production, introspection and `_service { sdl }`
answer only callers holding `schema:read`, and no error suggests a name ("Did you mean …")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from hub.app import create_app
from hub.auth.policy import load_policy
from hub.config import Settings
from tests.conftest import FAST_HASHER, Clients, GraphQLClient, World, close_app

POLICY = load_policy()
ROLES = sorted(POLICY.roles)
GRID = "410105001"

INTROSPECTION = {
    "schema": "{ __schema { queryType { name } } }",
    "type": '{ __type(name: "Resident") { name } }',
    "service": "{ _service { sdl } }",
    "in-a-fragment": "query { ...Root } fragment Root on Query { __schema { types { name } } }",
    "beside-data": '{ me { clientId } __type(name: "Resident") { name } }',
}


@pytest.fixture
async def production(prod_settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(prod_settings, password_hasher=FAST_HASHER)
    yield app
    await close_app(app)


@pytest.fixture
async def prod_clients(production: Starlette, clients: Clients) -> AsyncIterator[Clients]:
    transport = httpx.ASGITransport(app=production)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
        yield Clients(http, clients.sessionmaker, clients.policy)


async def caller(clients: Clients, role: str, *, scope: str | None = None) -> GraphQLClient:
    grid = GRID if POLICY.role(role).row_scope.value == "grid" else None
    return await clients.graphql(role, grid=grid, scope=scope)


def forbidden(result: dict[str, Any]) -> bool:
    codes = [error.get("extensions", {}).get("code") for error in result.get("errors", [])]
    return result.get("data") is None and codes == ["FORBIDDEN"]


@pytest.mark.parametrize("role", ROLES)
async def test_production_introspection_needs_schema_read(
    world: World, prod_clients: Clients, role: str
) -> None:
    await world.tree()
    client = await caller(prod_clients, role)
    may_read = "schema:read" in POLICY.role(role).scopes

    for name, document in INTROSPECTION.items():
        result = await client(document)

        if may_read:
            assert "errors" not in result, (name, result)
            assert result["data"], name
        else:
            assert forbidden(result), (name, result)
            assert "schema:read" in result["errors"][0]["message"]


async def test_the_gateways_client_holds_only_schema_read_and_reads_the_sdl(
    world: World, prod_clients: Clients
) -> None:
    await world.tree()
    gateway = await caller(prod_clients, "admin", scope="schema:read")

    result = await gateway("{ _service { sdl } }")

    assert "errors" not in result, result
    assert "type Resident" in result["data"]["_service"]["sdl"]


async def test_development_introspection_stays_open_for_graphiql(
    world: World, clients: Clients
) -> None:
    await world.tree()
    worker = await caller(clients, "grid_worker")

    result = await worker(INTROSPECTION["schema"])

    assert result == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


# Each document misspells one name; graphql-core would suggest the right one.
MISSPELLED: dict[str, tuple[str, dict[str, Any]]] = {
    "field": ("{ residnts { totalCount } }", {}),
    "argument": ("{ residents(frist: 1) { totalCount } }", {}),
    "type": ("query($f: ResidentFiltr) { residents(filter: $f) { totalCount } }", {}),
    "fragment-type": ("{ me { ...M } } fragment M on Mee { clientId }", {}),
    "enum-literal": ("{ residents(filter: {tag: ELDERLY_ALON}) { totalCount } }", {}),
    "input-field-literal": ('{ residents(filter: {namePrefx: "王"}) { totalCount } }', {}),
    "enum-variable": (
        "query($f: ResidentFilter) { residents(filter: $f) { totalCount } }",
        {"f": {"tag": "ELDERLY_ALON"}},
    ),
    "input-field-variable": (
        "query($f: ResidentFilter) { residents(filter: $f) { totalCount } }",
        {"f": {"namePrefx": "王"}},
    ),
}


def messages(result: dict[str, Any]) -> list[str]:
    return [error["message"] for error in result.get("errors", [])]


async def test_development_errors_still_suggest_names(world: World, clients: Clients) -> None:
    """The documents below do trigger suggestions, so their absence in production means something."""
    await world.tree()
    worker = await caller(clients, "grid_worker")

    for name, (document, variables) in MISSPELLED.items():
        result = await worker(document, variables)
        if name != "field":  # field suggestions are off everywhere (StrawberryConfig)
            assert any("Did you mean" in m for m in messages(result)), (name, result)


@pytest.mark.parametrize("role", ROLES)
async def test_production_errors_suggest_nothing(
    world: World, prod_clients: Clients, role: str
) -> None:
    await world.tree()
    client = await caller(prod_clients, role)

    for name, (document, variables) in MISSPELLED.items():
        result = await client(document, variables)

        assert result.get("errors"), (name, result)
        for message in messages(result):
            assert "Did you mean" not in message, (name, message)
            assert "ELDERLY_ALONE" not in message, (name, message)
            assert "namePrefix" not in message, (name, message)
