"""Access control against `hub serve` on a real port, with tokens from its real token endpoint."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest

from hub.auth.keys import KeyStore
from hub.config import Settings
from tests.e2e.conftest import Gateway, LiveHub
from tests.hub.test_tokens import REFUSALS, Case, Forge

pytestmark = pytest.mark.e2e

ONE = "query($id: ID!) { resident(id: $id) { id name idNumber } }"


def hub_settings(live_hub: LiveHub) -> Settings:
    """The running server's settings, read from the environment it was started with."""
    env = live_hub.env
    return Settings(
        database_url=env["HUB_DATABASE_URL"], var_dir=env["HUB_VAR_DIR"], issuer=env["HUB_ISSUER"]
    )


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    )
    return str(decoded["kid"])


def first_resident(live_hub: LiveHub, headers: dict[str, str], grid: str | None = None) -> str:
    query = "query($g: ID) { residents(first: 1, grid: $g) { edges { node { id } } } }"
    result = live_hub.graphql(query, {"g": grid}, headers=headers)
    return str(result["data"]["residents"]["edges"][0]["node"]["id"])


@pytest.mark.parametrize(("make", "reason"), REFUSALS)
def test_running_hub_refuses_broken_and_forged_tokens_with_401(
    live_hub: LiveHub, make: Case, reason: str
) -> None:
    settings = hub_settings(live_hub)
    forge = Forge(settings, KeyStore.from_settings(settings).signing_key())
    headers = {"Authorization": f"Bearer {make(forge)}", "X-Request-Purpose": "e2e"}

    response = live_hub.post("{ me { clientId } }", headers=headers)

    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_revoked_token_is_refused_from_then_on(live_hub: LiveHub) -> None:
    client = live_hub.register_client("health_officer")
    token = live_hub.token(client)
    headers = {"Authorization": f"Bearer {token}"}
    assert live_hub.post("{ me { clientId } }", headers=headers).status_code == 200

    revoked = httpx.post(
        f"{live_hub.url}/oauth/revoke",
        data={"token": token},
        auth=(client.client_id, client.client_secret),
    )

    assert revoked.status_code == 200
    assert live_hub.post("{ me { clientId } }", headers=headers).status_code == 401


def test_rotated_key_signs_new_tokens_while_old_tokens_still_verify(live_hub: LiveHub) -> None:
    client = live_hub.register_client("social_officer")
    old = live_hub.token(client)

    live_hub.hub("keys", "rotate", "--json")
    deadline = time.monotonic() + 20  # the server re-reads its key folder every 10 s
    new = live_hub.token(client)
    while kid_of(new) == kid_of(old) and time.monotonic() < deadline:
        time.sleep(0.5)
        new = live_hub.token(client)

    assert kid_of(new) != kid_of(old)
    jwks = httpx.get(f"{live_hub.url}/.well-known/jwks.json").json()
    assert {kid_of(old), kid_of(new)} <= {key["kid"] for key in jwks["keys"]}
    for token in (old, new):
        response = live_hub.post(
            "{ me { clientId } }", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text


def test_narrowed_token_loses_fields_and_widening_is_invalid_scope(live_hub: LiveHub) -> None:
    client = live_hub.register_client("police_officer")
    narrowed = live_hub.token(client, scope="resident:basic")
    headers = {"Authorization": f"Bearer {narrowed}", "X-Request-Purpose": "e2e"}
    resident_id = first_resident(live_hub, headers)

    result = live_hub.graphql(ONE, {"id": resident_id}, headers=headers)
    widened = httpx.post(
        f"{live_hub.url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "resident:basic health:read"},
        auth=(client.client_id, client.client_secret),
    )

    assert result["data"]["resident"]["idNumber"] is None
    assert result["errors"][0]["path"] == ["resident", "idNumber"]
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_scope"


def building_with_residents(live_hub: LiveHub, headers: dict[str, str]) -> tuple[str, int]:
    query = "{ grids(level: BUILDING) { code residentCount } }"
    grids = live_hub.graphql(query, headers=headers)["data"]["grids"]
    busiest = max(grids, key=lambda grid: grid["residentCount"])
    return busiest["code"], busiest["residentCount"]


def test_grid_worker_total_count_equals_its_grid_resident_count(
    live_hub: LiveHub, full_view_headers: dict[str, str]
) -> None:
    code, count = building_with_residents(live_hub, full_view_headers)
    worker = live_hub.caller_headers("grid_worker", grid=code)

    result = live_hub.graphql("{ residents { totalCount } }", headers=worker)

    assert count > 0
    assert result["data"]["residents"]["totalCount"] == count


def test_grid_worker_gets_null_for_a_resident_of_another_grid(
    live_hub: LiveHub, full_view_headers: dict[str, str]
) -> None:
    code, _ = building_with_residents(live_hub, full_view_headers)
    district = live_hub.graphql(
        "{ residents(first: 500) { edges { node { id grid { code } } } } }",
        headers=full_view_headers,
    )
    outsider = next(
        edge["node"]["id"]
        for edge in district["data"]["residents"]["edges"]
        if edge["node"]["grid"]["code"] != code
    )
    worker = live_hub.caller_headers("grid_worker", grid=code)

    result = live_hub.graphql(ONE, {"id": outsider}, headers=worker)

    assert result == {"data": {"resident": None}}


def test_caller_without_a_scope_gets_forbidden_through_the_gateway_too(
    live_hub: LiveHub, gateway: Gateway, full_view_headers: dict[str, str]
) -> None:
    code, _ = building_with_residents(live_hub, full_view_headers)
    worker = live_hub.caller_headers("grid_worker", grid=code)
    resident_id = first_resident(live_hub, worker)
    query = "query($id: ID!) { resident(id: $id) { name health { vaccinations { vaccine } } education { enrollments { school } } } }"

    result = gateway.graphql(query, {"id": resident_id}, headers=worker)

    assert result["data"]["resident"]["name"]
    assert result["data"]["resident"]["education"] is None
    forbidden = [e for e in result["errors"] if e.get("extensions", {}).get("code") == "FORBIDDEN"]
    assert forbidden, result
    assert forbidden[0]["path"] == ["resident", "education"]
