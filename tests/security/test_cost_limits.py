"""Static cost before execution: the nested-list harvest is refused, ordinary queries are not.

Costs come from the `@cost`/`@listSize` directives in the SDL; every answer reports its cost
in `extensions.cost`, and a refusal names the computed and the allowed cost.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from graphql import DocumentNode, OperationDefinitionNode, parse

from hub.config import Settings
from schema.build import build_schema
from tests.e2e.conftest import REPO_ROOT, LiveHub
from tests.security.support import (
    answers_normally,
    error_code,
    graphql_events_of,
    post_body,
    request_id,
    while_probed,
)

pytestmark = pytest.mark.e2e

HARVEST = """
query Harvest {
  grids(level: BUILDING) {
    residents(first: 500) { edges { node { idNumber phone name address } } }
  }
}
"""

ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Resident { id } } }"

SCHEMA = build_schema()


def test_the_nested_list_harvest_is_refused_by_cost_before_any_resident_is_read(
    guarded_hub: LiveHub,
) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    rid = request_id()

    with while_probed(guarded_hub):
        response = guarded_hub.post(HARVEST, headers={**headers, "X-Request-Id": rid})

    assert error_code(response) == "QUERY_TOO_COMPLEX", response.text[:500]
    error = response.json()["errors"][0]
    assert error["extensions"]["cost"] > error["extensions"]["maximumCost"]
    assert response.json().get("data") is None
    [event] = graphql_events_of(guarded_hub, rid)
    assert event.outcome == "LIMITED"
    assert event.resident_ids == []
    answers_normally(guarded_hub, headers)


def test_a_page_of_pages_beyond_the_resident_node_limit_is_refused(guarded_hub: LiveHub) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    query = (
        "query($c: ID!) { grid(code: $c) { children { residents(first: 400) "
        "{ edges { node { name } } } } } }"
    )

    response = post_body(
        guarded_hub,
        {"query": query, "variables": {"c": guarded_hub.district_code}},
        headers=headers,
    )

    assert error_code(response) == "QUERY_TOO_COMPLEX", response.text[:500]
    extensions = response.json()["errors"][0]["extensions"]
    assert extensions["residentNodes"] > extensions["maximumResidentNodes"]


@pytest.mark.parametrize(
    ("count", "status", "code"),
    [(20_000, 413, "BAD_USER_INPUT"), (6_000, 200, "QUERY_TOO_COMPLEX")],
    ids=["tens of thousands: past the body limit", "thousands: past the cost limit"],
)
def test_entities_with_thousands_of_representations_are_refused(
    guarded_hub: LiveHub, count: int, status: int, code: str
) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    representations = [{"__typename": "Resident", "id": f"r-{n}"} for n in range(count)]
    ids = [request_id(), request_id()]

    with while_probed(guarded_hub):
        answers = [
            post_body(
                guarded_hub,
                {"query": ENTITIES, "variables": {"r": representations}},
                headers={**headers, "X-Request-Id": rid},
                path=path,
            )
            for rid, path in zip(ids, ("/graphql", "/subgraphs/core/graphql"), strict=True)
        ]

    for answer, rid in zip(answers, ids, strict=True):
        assert answer.status_code == status, answer.text[:300]
        assert error_code(answer) == code, answer.text[:300]
        if code == "QUERY_TOO_COMPLEX":
            assert answer.json()["errors"][0]["extensions"]["residentNodes"] == count
        [event] = graphql_events_of(guarded_hub, rid)
        assert event.outcome == ("LIMITED" if code == "QUERY_TOO_COMPLEX" else "REJECTED")
    answers_normally(guarded_hub, headers)


def test_every_answer_reports_its_cost(guarded_hub: LiveHub) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)

    small = guarded_hub.post("{ me { clientId } }", headers=headers).json()
    page = guarded_hub.post(
        "{ residents(first: 10) { edges { node { name health { vaccinations { vaccine } } } } } }",
        headers=headers,
    ).json()

    assert small["extensions"]["cost"]["requested"] >= 1
    assert page["extensions"]["cost"]["requested"] > small["extensions"]["cost"]["requested"]
    assert page["extensions"]["cost"]["maximum"] >= page["extensions"]["cost"]["requested"]
    assert page["extensions"]["cost"]["residentNodes"] == 10


def _readme_queries() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```graphql\n(.*?)```", readme, flags=re.DOTALL)


def _variables_for(query: str, hub: LiveHub, headers: dict[str, str]) -> dict[str, Any]:
    found = hub.graphql(
        "{ residents(first: 1) { edges { node { idNumber grid { code } } } } }", headers=headers
    )
    node = found["data"]["residents"]["edges"][0]["node"]
    names = set(re.findall(r"\$(\w+)", query))
    values = {"idNumber": node["idNumber"], "code": node["grid"]["code"]}
    return {name: values[name] for name in names}


def _reads_residents(query: str) -> bool:
    """One query (not a mutation or subscription) whose variables a clerk can fill in."""
    operations = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    variables = set(re.findall(r"\$(\w+)", query))
    one_query = len(operations) == 1 and operations[0].operation.value == "query"
    return one_query and variables <= {"idNumber", "code"}


def test_every_query_in_the_readme_runs_under_the_default_limits(guarded_hub: LiveHub) -> None:
    headers = guarded_hub.caller_headers("service_center_clerk", grid=guarded_hub.district_code)
    queries = _readme_queries()
    assert len(queries) >= 3
    # A clerk runs the resident queries; the grid-governance examples, which other roles
    # send with variables of their own (tests/schema/governance/test_readme_examples.py runs
    # them), are costed here statically against the same default bounds.
    live = [q for q in queries if _reads_residents(q)]
    assert len(live) >= 3

    for query in live:
        variables = _variables_for(query, guarded_hub, headers)
        response = post_body(guarded_hub, {"query": query, "variables": variables}, headers=headers)
        body = response.json()
        codes = {e["extensions"]["code"] for e in body.get("errors", [])}
        assert response.status_code == 200, response.text[:500]
        assert not codes & {"QUERY_TOO_COMPLEX", "RATE_LIMITED", "QUOTA_EXCEEDED"}, body
        assert "extensions" in body, (query, body)
        assert body["extensions"]["cost"]["requested"] <= body["extensions"]["cost"]["maximum"]

    defaults = Settings()
    for query in queries:
        document = parse(query)
        fragments = [d for d in document.definitions if not isinstance(d, OperationDefinitionNode)]
        for operation in document.definitions:
            if not isinstance(operation, OperationDefinitionNode):
                continue
            alone = DocumentNode(definitions=(operation, *fragments))  # unnamed ones too
            plan = SCHEMA.cost_model.plan(alone, None)
            assert plan is not None, query
            cost = plan.evaluate({}, max_string=defaults.max_string_length)
            assert cost.requested <= defaults.max_cost, (query, cost)
            assert cost.resident_nodes <= defaults.max_resident_nodes, (query, cost)


def test_sdl_declares_the_costs_a_gateway_enforces() -> None:
    sdl = (Path(REPO_ROOT) / "schema" / "sdl" / "unified.graphql").read_text(encoding="utf-8")

    assert re.search(r'residents\([^)]*\)[^\n]*@listSize\(slicingArguments: \["first"\]', sdl)
    assert "@listSize(assumedSize:" in sdl
