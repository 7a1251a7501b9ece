"""Need to know: provenance and record filters tell a caller only about record types it may read.

`Resident.sources` once told a health or police officer that a resident receives social
assistance; `hasRecordsIn` let it select exactly those residents. Both now follow the caller's
scopes (the record fields' `@requiresScopes`, through the department profile's).
"""

from __future__ import annotations

from datetime import date

import pytest

from hub.auth.policy import load_policy
from hub.storage import models
from hub.vocabulary import PermitStatus, PersonFlagType
from tests.conftest import Clients, World
from tests.schema.test_queries import add_full_records

POLICY = load_policy()
GRID = "410105001"

HEALTH = {"health_family_doctor_contracts", "health_vaccinations"}
SOCIAL = {"social_insurance_enrollments", "social_assistance_grants"}
EDUCATION = {"education_school_enrollments"}
POLICE = {"police_household_registrations", "police_residence_permits"}

# What each role may learn exists. Chronic conditions and police flags never appear (their
# mere existence is sensitive); auditors and admins see no resident at all.
SOURCES_BY_ROLE: dict[str, set[str] | None] = {
    "grid_worker": HEALTH | SOCIAL,
    "service_center_clerk": HEALTH | SOCIAL | EDUCATION | POLICE,
    "health_officer": HEALTH,
    "social_officer": SOCIAL,
    "education_officer": EDUCATION,
    "police_officer": POLICE,
    "district_dispatcher": set(),  # resident:basic and case work: no department's records
    "auditor": None,
    "admin": None,
}

SOURCES = "query($id: ID!) { resident(id: $id) { sources { department recordType records } } }"


def test_every_shipped_role_has_an_expectation() -> None:
    assert set(SOURCES_BY_ROLE) == set(POLICY.roles)


@pytest.mark.parametrize("role", sorted(SOURCES_BY_ROLE))
async def test_sources_list_only_record_types_the_caller_may_read(
    world: World, clients: Clients, role: str
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    await add_full_records(world, resident)
    await world.record(
        models.ResidencePermit,
        resident,
        permit_number="豫A-0001",
        origin_region="410102",
        issued_on=date(2024, 1, 1),
        valid_until=date(2027, 1, 1),
        police_station="经八路派出所",
        status=PermitStatus.VALID,
    )
    grid = GRID if POLICY.role(role).row_scope.value == "grid" else None
    caller = await clients.graphql(role, grid=grid)

    result = await caller(SOURCES, {"id": resident.id})

    expected = SOURCES_BY_ROLE[role]
    if expected is None:
        assert result["data"]["resident"] is None
        return
    assert "errors" not in result, result
    sources = result["data"]["resident"]["sources"]
    assert {s["recordType"] for s in sources} == expected
    assert all(s["records"] == 1 for s in sources)


FILTERED = """
query($departments: [Department!]) {
  residents(filter: {hasRecordsIn: $departments}) { totalCount edges { node { id } } }
}
"""


@pytest.mark.parametrize(
    ("role", "department", "scope"),
    [
        pytest.param("health_officer", "SOCIAL_SECURITY", "social:read", id="health-social"),
        pytest.param("police_officer", "HEALTH", "health:read", id="police-health"),
        pytest.param("education_officer", "POLICE", "police:read", id="education-police"),
        pytest.param("social_officer", "EDUCATION", "education:read", id="social-education"),
    ],
)
async def test_has_records_in_a_department_the_caller_cannot_read_is_forbidden(
    world: World, clients: Clients, role: str, department: str, scope: str
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    await add_full_records(world, resident)
    caller = await clients.graphql(role)

    result = await caller(FILTERED, {"departments": [department]})

    assert result["data"]["residents"] is None
    error = result["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert scope in error["message"]


async def test_has_records_in_counts_only_record_types_the_caller_may_read(
    world: World, clients: Clients
) -> None:
    """A police officer without police:sensitive cannot find who carries only a police flag."""
    grids = await world.tree()
    flagged = await world.resident(grids["410105001001001"])
    await world.record(
        models.PersonFlag, flagged, flag_type=PersonFlagType.PETITIONER, flagged_on=date(2024, 1, 1)
    )
    registered = await world.resident(grids["410105001001002"])
    await add_full_records(world, registered)
    officer = await clients.graphql("police_officer", scope="resident:basic police:read")
    sensitive = await clients.graphql("police_officer")

    narrowed = await officer(FILTERED, {"departments": ["POLICE"]})
    full = await sensitive(FILTERED, {"departments": ["POLICE"]})

    assert narrowed["data"]["residents"]["totalCount"] == 1
    assert [e["node"]["id"] for e in narrowed["data"]["residents"]["edges"]] == [registered.id]
    assert full["data"]["residents"]["totalCount"] == 2
