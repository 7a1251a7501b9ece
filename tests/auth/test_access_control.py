"""Access control through the hub's own stack: row scope, purpose, `me`, and 401 refusals."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Clients, World

COUNT = "{ residents { totalCount edges { node { id } } } }"
ONE = "query($id: ID!) { resident(id: $id) { id name } }"


async def test_grid_worker_total_count_equals_its_grid_resident_count(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    mine = [await world.resident(grids["410105001001001"]) for _ in range(3)]
    await world.resident(grids["410105001001002"])
    await world.resident(grids["410105002001001"])
    worker = await clients.graphql("grid_worker", grid="410105001001001")

    result = await worker(COUNT)
    board = await worker('{ grid(code: "410105001001001") { residentCount } }')

    assert result["data"]["residents"]["totalCount"] == 3
    assert {e["node"]["id"] for e in result["data"]["residents"]["edges"]} == {r.id for r in mine}
    assert board["data"]["grid"]["residentCount"] == 3


async def test_grid_worker_cannot_see_residents_outside_their_grid(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    outside = await world.resident(grids["410105002001001"])
    worker = await clients.graphql("grid_worker", grid="410105001001001")

    by_id = await worker(ONE, {"id": outside.id})
    by_number = await worker(
        "query($n: String!) { resident(idNumber: $n) { id } }", {"n": outside.id_number}
    )
    other_grid = await worker(
        '{ grid(code: "410105002001001") { residentCount residents { totalCount edges { node { id } } } } }'
    )
    listed = await worker('{ residents(grid: "410105002") { totalCount } }')

    assert by_id == {"data": {"resident": None}}
    assert by_number == {"data": {"resident": None}}
    assert other_grid["data"]["grid"] == {
        "residentCount": 0,
        "residents": {"totalCount": 0, "edges": []},
    }
    assert listed["data"]["residents"]["totalCount"] == 0


async def test_out_of_scope_resident_is_not_resolved_as_an_entity_either(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    outside = await world.resident(grids["410105002001001"])
    worker = await clients.graphql("grid_worker", grid="410105001001001")
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Resident { id health { vaccinations { vaccine } } } } }"

    result = await worker(
        query,
        {"r": [{"__typename": "Resident", "id": outside.id}]},
        path="/subgraphs/health/graphql",
    )

    assert result == {"data": {"_entities": [None]}}


async def test_service_center_clerk_of_a_street_sees_the_whole_street(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    await world.resident(grids["410105001001001"])
    await world.resident(grids["410105001001002"])
    await world.resident(grids["410105002001001"])
    clerk = await clients.graphql("service_center_clerk", grid="410105001")

    result = await clerk(COUNT)

    assert result["data"]["residents"]["totalCount"] == 2


async def test_district_role_sees_every_resident(world: World, clients: Clients) -> None:
    grids = await world.tree()
    for code in ("410105001001001", "410105002001002"):
        await world.resident(grids[code])
    officer = await clients.graphql("health_officer")

    result = await officer(COUNT)

    assert result["data"]["residents"]["totalCount"] == 2


async def test_resident_data_without_a_purpose_is_purpose_required(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    officer = await clients.graphql("health_officer", purpose=None)

    result = await officer(ONE, {"id": resident.id})
    grids_only = await officer("{ grids(level: STREET) { code } }")

    assert result["data"] == {"resident": None}
    assert result["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    assert result["errors"][0]["path"] == ["resident"]
    assert "errors" not in grids_only


async def test_forbidden_field_is_null_with_its_path_and_the_rest_is_returned(
    world: World, clients: Clients
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    officer = await clients.graphql("social_officer")

    result = await officer(
        "query($id: ID!) { resident(id: $id) { name idNumber health { vaccinations { vaccine } } } }",
        {"id": resident.id},
    )

    assert result["data"]["resident"] == {
        "name": resident.name,
        "idNumber": resident.id_number,
        "health": None,
    }
    [error] = result["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["path"] == ["resident", "health"]


async def test_narrowed_token_loses_the_scopes_it_left_out(world: World, clients: Clients) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    officer = await clients.graphql("police_officer", scope="resident:basic police:read")

    result = await officer(
        "query($id: ID!) { resident(id: $id) { name idNumber police { flags { flagType } } } }",
        {"id": resident.id},
    )

    assert result["data"]["resident"]["name"] == resident.name
    denied = sorted(tuple(error["path"]) for error in result["errors"])
    assert denied == [("resident", "idNumber"), ("resident", "police", "flags")]


async def test_me_reports_client_roles_scopes_and_grid(world: World, clients: Clients) -> None:
    await world.tree()
    client_id, secret = await clients.register("grid_worker", grid="410105001001001")
    token = await clients.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    response = await clients.http.post(
        "/graphql",
        json={"query": "{ me { clientId subject roles scopes grid { code level } } }"},
        headers=headers,
    )

    assert response.json()["data"]["me"] == {
        "clientId": client_id,
        "subject": client_id,
        "roles": ["grid_worker"],
        "scopes": sorted(
            [
                *("resident:basic", "resident:pii", "grid:read", "health:read", "social:read"),
                *("cases:read", "cases:write", "visits:write", "kpi:read"),  # DESIGN.md's roles
            ]
        ),
        "grid": {"code": "410105001001001", "level": "BUILDING"},
    }


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        pytest.param({}, {}, id="no-token"),
        pytest.param({"Authorization": "Bearer not-a-jwt"}, {}, id="garbage"),
        pytest.param({"Authorization": "Basic dXNlcjpwdw=="}, {}, id="wrong-scheme"),
        pytest.param({"Authorization": "Bearer " + "a" * 9000}, {}, id="oversized"),
        pytest.param({}, {"access_token": "x"}, id="token-in-url"),
    ],
)
@pytest.mark.parametrize("path", ["/graphql", "/subgraphs/health/graphql"])
async def test_request_without_a_valid_token_is_401_with_a_bearer_challenge(
    http: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str], path: str
) -> None:
    response = await http.post(
        path, json={"query": "{ me { clientId } }"}, headers=headers, params=params
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith(
        'Bearer realm="gridhub", error="invalid_token"'
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphiql_page_is_served_without_a_token_in_dev(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_lookup_by_id_number_needs_resident_pii(world: World, clients: Clients) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    narrowed = await clients.graphql("health_officer", scope="resident:basic")
    query = "query($n: String!) { resident(idNumber: $n) { name } }"

    result = await narrowed(query, {"n": resident.id_number})

    assert result["data"] == {"resident": None}
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "resident:pii" in result["errors"][0]["message"]
