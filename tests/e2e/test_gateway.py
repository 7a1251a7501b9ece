"""A real federation gateway (Hive Gateway) in front of the hub's subgraphs.

The supergraph is composed from the committed schema/sdl files with @apollo/composition; the
gateway's answers must equal the hub's unified /graphql answers for the same documents.
"""

from __future__ import annotations

from typing import Any

import pytest

from schema.build import SUBGRAPHS
from tests.e2e.conftest import PROPAGATED_HEADERS, SDL_DIR, Gateway, LiveHub, RecordingProxy

Headers = dict[str, str]

pytestmark = pytest.mark.e2e

DEPARTMENTS = """
  health {
    familyDoctor { doctorName }
    vaccinations { vaccine }
  }
  socialSecurity { insuranceEnrollments { insuranceType } }
  education { enrollments { school } }
  police { householdRegistration { householdNumber } }
"""

RESIDENT_360 = f"""
query Resident360($idNumber: String!) {{
  resident(idNumber: $idNumber) {{
    name
    idNumber
    grid {{ name }}
    {DEPARTMENTS}
  }}
}}
"""

RESIDENTS = f"""
query Residents {{
  residents(first: 20) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    edges {{
      cursor
      node {{
        id
        name
        idNumber
        grid {{ name }}
        {DEPARTMENTS}
      }}
    }}
  }}
}}
"""


def _data(result: dict[str, Any], where: str) -> dict[str, Any]:
    assert "errors" not in result, f"{where}: {result['errors']}"
    data: dict[str, Any] = result["data"]
    return data


@pytest.fixture(scope="module")
def id_number(live_hub: LiveHub, full_view_headers: Headers) -> str:
    """A resident's ID number, asked of the unified endpoint."""
    query = "{ residents(first: 1) { edges { node { idNumber } } } }"
    data = _data(live_hub.graphql(query, headers=full_view_headers), "hub")
    edges = data["residents"]["edges"]
    assert edges, "the seeded district has no residents"
    number: str = edges[0]["node"]["idNumber"]
    return number


def test_resident_360_through_the_gateway_equals_the_unified_schema(
    live_hub: LiveHub, gateway: Gateway, full_view_headers: Headers, id_number: str
) -> None:
    variables, headers = {"idNumber": id_number}, full_view_headers
    unified = _data(live_hub.graphql(RESIDENT_360, variables, headers=headers), "unified /graphql")
    federated = _data(gateway.graphql(RESIDENT_360, variables, headers=headers), "gateway")

    assert unified["resident"] is not None
    assert unified["resident"]["idNumber"] == id_number
    assert federated == unified


def test_resident_list_through_the_gateway_equals_the_unified_schema(
    live_hub: LiveHub, gateway: Gateway, full_view_headers: Headers
) -> None:
    headers = full_view_headers
    unified = _data(live_hub.graphql(RESIDENTS, headers=headers), "unified /graphql")
    federated = _data(gateway.graphql(RESIDENTS, headers=headers), "gateway")

    nodes = [edge["node"] for edge in unified["residents"]["edges"]]
    assert len(nodes) == 20
    # The comparison means something only if the departments' subgraphs had data to give.
    assert any(node["health"]["vaccinations"] for node in nodes)
    assert any(node["socialSecurity"]["insuranceEnrollments"] for node in nodes)
    assert any(node["police"]["householdRegistration"] for node in nodes)
    assert federated == unified


@pytest.mark.parametrize("name", SUBGRAPHS)
def test_served_subgraph_sdl_is_the_committed_file(
    live_hub: LiveHub, full_view_headers: Headers, name: str
) -> None:
    path = f"/subgraphs/{name}/graphql"
    result = live_hub.graphql("{ _service { sdl } }", path=path, headers=full_view_headers)
    served = str(_data(result, name)["_service"]["sdl"]).rstrip("\n") + "\n"
    committed = (SDL_DIR / f"{name}.graphql").read_text(encoding="utf-8")
    assert served == committed, f"schema/sdl/{name}.graphql is stale: run `hub schema export`"


def test_supergraph_keeps_the_scope_requirements(gateway: Gateway) -> None:
    supergraph = gateway.supergraph_sdl
    assert "https://specs.apollo.dev/requiresScopes/v0.1" in supergraph
    assert '@requiresScopes(scopes: [["resident:basic"]])' in supergraph


def test_gateway_forwards_request_headers_to_every_subgraph(
    recording_proxy: RecordingProxy,
    recording_gateway: Gateway,
    full_view_headers: Headers,
    id_number: str,
) -> None:
    sent = {
        **full_view_headers,
        "X-Request-Purpose": "e2e: header propagation",
        "X-Request-User": "e2e-tester",
        "X-Request-Case": "E2E-0001",
    }
    assert set(sent) == set(PROPAGATED_HEADERS)
    recording_proxy.clear()

    result = recording_gateway.graphql(
        RESIDENT_360, {"idNumber": id_number}, headers={**sent, "X-Not-Forwarded": "secret"}
    )

    assert _data(result, "gateway")["resident"]["idNumber"] == id_number
    recorded = recording_proxy.recorded()
    assert {request.subgraph for request in recorded} == set(SUBGRAPHS)
    for request in recorded:
        received = {name: request.headers.get(name.lower()) for name in sent}
        assert received == sent, request.subgraph
        assert "x-not-forwarded" not in request.headers, request.subgraph
