"""Federation subgraphs: committed SDL, entity resolution, and the unified schema's contract."""

from __future__ import annotations

import re

import pytest

from schema.build import SUBGRAPHS, UNIFIED
from schema.export import SDL_DIR, render_all
from tests.conftest import GraphQLClient, World
from tests.schema.test_queries import add_full_records


def test_committed_sdl_matches_what_the_code_produces() -> None:
    rendered = render_all()

    stale = [
        name
        for name, sdl in rendered.items()
        if not (SDL_DIR / name).exists() or (SDL_DIR / name).read_text(encoding="utf-8") != sdl
    ]

    assert not stale, f"run `hub schema export` and review the diff of {stale}"


@pytest.mark.parametrize("name", SUBGRAPHS)
async def test_each_subgraph_serves_its_sdl(gql: GraphQLClient, name: str) -> None:
    result = await gql("{ _service { sdl } }", path=f"/subgraphs/{name}/graphql")

    committed = (SDL_DIR / f"{name}.graphql").read_text("utf-8")
    assert result["data"]["_service"]["sdl"] == committed.rstrip("\n")


@pytest.mark.parametrize(
    ("coordinate", "scope"),
    [
        ("HealthProfile.chronicConditions", "health:sensitive"),
        ("PoliceProfile.flags", "police:sensitive"),
        ("Resident.idNumber", "resident:pii"),
        ("Resident.health", "health:read"),
        ("Resident.socialSecurity", "social:read"),
        ("Resident.education", "education:read"),
        ("Resident.police", "police:read"),
        ("Query.grid", "grid:read"),
    ],
)
def test_protected_fields_declare_their_scope_in_the_unified_sdl(
    coordinate: str, scope: str
) -> None:
    sdl = (SDL_DIR / f"{UNIFIED}.graphql").read_text("utf-8")
    type_name, field_name = coordinate.split(".")
    body = re.search(rf"^type {type_name}\b[^{{]*{{(.*?)^}}", sdl, re.S | re.M)
    assert body is not None
    line = next(line for line in body.group(1).splitlines() if line.strip().startswith(field_name))

    assert f'@requiresScopes(scopes: [["{scope}"]])' in line


def test_core_subgraph_leaves_department_fields_to_their_subgraphs() -> None:
    core = (SDL_DIR / "core.graphql").read_text("utf-8")

    assert "HealthProfile" not in core
    assert "socialSecurity" not in core
    assert 'type Resident @key(fields: "id")' in core


ENTITIES = """
query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Resident { id %s }
  }
}
"""


@pytest.mark.parametrize(
    ("name", "selection", "expected"),
    [
        ("core", "name", "居民"),
        ("health", "health { vaccinations { vaccine } }", "流感疫苗"),
        ("social_security", "socialSecurity { insuranceEnrollments { insuranceType } }", "PENSION"),
        ("education", "education { enrollments { stage } }", "PRIMARY"),
        ("police", "police { householdRegistration { policeStation } }", "经八路派出所"),
    ],
)
async def test_subgraph_resolves_resident_entities_by_key(
    world: World, gql: GraphQLClient, name: str, selection: str, expected: str
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    await add_full_records(world, resident)
    representations = [
        {"__typename": "Resident", "id": resident.id},
        {"__typename": "Resident", "id": "no-such-resident"},
    ]

    result = await gql(
        ENTITIES % selection,
        {"representations": representations},
        path=f"/subgraphs/{name}/graphql",
    )

    assert "errors" not in result, result
    found, missing = result["data"]["_entities"]
    assert found["id"] == resident.id
    assert expected in str(found)
    assert missing is None
