"""The unified schema's queries: resident 360, lists, grids, and how bad input is answered."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from hub.clock import local_today
from hub.storage import models
from hub.vocabulary import (
    AssistanceType,
    ConditionStatus,
    ContractStatus,
    EnrollmentStatus,
    GrantStatus,
    GridPost,
    HouseholdRelation,
    InsuranceScheme,
    InsuranceType,
    MemberKind,
    PersonFlagType,
    RegistrationStatus,
    RegistrationType,
    ResidentTag,
    SchoolStage,
    SchoolStatus,
)
from tests.conftest import GraphQLClient, World, WorldResident

RESIDENT_360 = """
query Resident360($idNumber: String!) {
  resident(idNumber: $idNumber) {
    id name gender age maskedIdNumber idNumber birthDate phone address tags
    grid { code name level } household { number address }
    sources { department source recordType records }
    health {
      familyDoctor { doctorName institution status }
      vaccinations { vaccine doseNumber administeredOn }
      chronicConditions { condition icd10Code }
    }
    socialSecurity {
      insuranceEnrollments { insuranceType scheme status }
      assistanceGrants { assistanceType monthlyAmount }
    }
    education { enrollments { school stage grade status } }
    police {
      householdRegistration { householdNumber relationToHead status }
      residencePermit { permitNumber }
      flags { flagType active }
    }
  }
}
"""


async def add_full_records(world: World, resident: WorldResident) -> None:
    """One record of every department type for `resident`."""
    await world.record(
        models.FamilyDoctorContract,
        resident,
        source="health_api",
        doctor_name="张医生",
        institution="经八路社区卫生服务中心",
        signed_on=date(2024, 3, 5),
        status=ContractStatus.ACTIVE,
    )
    await world.record(
        models.Vaccination,
        resident,
        source="health_api",
        vaccine="流感疫苗",
        dose_number=1,
        administered_on=date(2024, 10, 1),
    )
    await world.record(
        models.ChronicCondition,
        resident,
        source="health_api",
        condition="高血压",
        icd10_code="I10",
        status=ConditionStatus.MANAGED,
    )
    await world.record(
        models.InsuranceEnrollment,
        resident,
        source="social_db",
        insurance_type=InsuranceType.PENSION,
        scheme=InsuranceScheme.EMPLOYEE,
        status=EnrollmentStatus.ACTIVE,
        enrolled_on=date(2005, 7, 1),
    )
    await world.record(
        models.AssistanceGrant,
        resident,
        source="social_db",
        assistance_type=AssistanceType.SUBSISTENCE_ALLOWANCE,
        monthly_amount=Decimal("720.00"),
        start_on=date(2023, 1, 1),
        status=GrantStatus.ACTIVE,
    )
    await world.record(
        models.SchoolEnrollment,
        resident,
        source="education_files",
        school="郑州市金水区文化路第一小学",
        stage=SchoolStage.PRIMARY,
        grade=3,
        status=SchoolStatus.ENROLLED,
        enrolled_on=date(2023, 9, 1),
    )
    await world.record(
        models.HouseholdRegistration,
        resident,
        source="police_api",
        registration_type=RegistrationType.FAMILY,
        household_number="410105000001",
        relation_to_head=HouseholdRelation.HEAD,
        registered_address="金水区经八路1号",
        registered_on=date(2000, 1, 1),
        police_station="经八路派出所",
        status=RegistrationStatus.ACTIVE,
    )
    await world.record(
        models.PersonFlag,
        resident,
        source="police_api",
        flag_type=PersonFlagType.PETITIONER,
        flagged_on=date(2024, 1, 1),
    )


async def test_resident_360_by_id_number_returns_every_department_profile(
    world: World, gql: GraphQLClient
) -> None:
    grids = await world.tree()
    household = models.Household(
        id="h-1", number="410105000001", address="经八路1号", grid_code="410105001001001"
    )
    await world.add(household)
    resident = await world.resident(grids["410105001001001"], household_id="h-1")
    await world.add(models.ResidentTagRow(resident_id=resident.id, tag=ResidentTag.LOW_INCOME))
    await add_full_records(world, resident)

    result = await gql(RESIDENT_360, {"idNumber": resident.id_number.lower()})

    assert "errors" not in result
    data = result["data"]["resident"]
    assert data["id"] == resident.id
    assert data["idNumber"] == resident.id_number
    assert data["maskedIdNumber"] == resident.id_number[:6] + "********" + resident.id_number[-4:]
    assert data["tags"] == ["LOW_INCOME"]
    assert data["grid"] == {
        "code": "410105001001001",
        "name": "网格410105001001001",
        "level": "BUILDING",
    }
    assert data["household"] == {"number": "410105000001", "address": "经八路1号"}
    assert data["health"]["familyDoctor"]["doctorName"] == "张医生"
    assert data["health"]["chronicConditions"] == [{"condition": "高血压", "icd10Code": "I10"}]
    assert data["socialSecurity"]["assistanceGrants"][0]["monthlyAmount"] == "720.00"
    assert data["education"]["enrollments"][0]["stage"] == "PRIMARY"
    assert data["police"]["householdRegistration"]["relationToHead"] == "HEAD"
    assert data["police"]["residencePermit"] is None
    assert data["police"]["flags"] == [{"flagType": "PETITIONER", "active": True}]


async def test_sources_name_each_system_and_hide_sensitive_record_types(
    world: World, gql: GraphQLClient
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    await add_full_records(world, resident)

    result = await gql(RESIDENT_360, {"idNumber": resident.id_number})

    sources = result["data"]["resident"]["sources"]
    record_types = {s["recordType"] for s in sources}
    assert "health_chronic_conditions" not in record_types
    assert "police_person_flags" not in record_types
    assert {s["department"] for s in sources} == {
        "HEALTH",
        "SOCIAL_SECURITY",
        "EDUCATION",
        "POLICE",
    }
    assert all(s["records"] == 1 for s in sources)


@pytest.mark.parametrize(
    ("id_number", "reason"),
    [
        pytest.param("41010519800101001", "BAD_LENGTH", id="seventeen-characters"),
        pytest.param("410105198013010010", "BAD_BIRTH_DATE", id="month-thirteen"),
        pytest.param("410105198001010011", "BAD_CHECK_DIGIT", id="wrong-check-digit"),
        pytest.param("99010519800101001X", "BAD_REGION", id="no-such-province"),
    ],
)
async def test_malformed_id_number_is_bad_user_input_naming_the_reason(
    gql: GraphQLClient, id_number: str, reason: str
) -> None:
    result = await gql("query($n: String!) { resident(idNumber: $n) { id } }", {"n": id_number})

    assert result["data"] == {"resident": None}
    [error] = result["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["reason"] == reason
    assert reason in error["message"]


async def test_resident_lookup_needs_exactly_one_of_id_and_id_number(gql: GraphQLClient) -> None:
    result = await gql('{ resident(id: "x", idNumber: "11010519491231002X") { id } }')

    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unknown_resident_is_null_without_error(gql: GraphQLClient) -> None:
    result = await gql('{ resident(id: "nobody") { id } }')

    assert result == {"data": {"resident": None}}


async def test_unknown_grid_code_is_null_not_an_error(gql: GraphQLClient) -> None:
    result = await gql('{ grid(code: "999999") { code } }')

    assert result == {"data": {"grid": None}}


@pytest.mark.parametrize("first", [501, -1], ids=["above-500", "negative"])
async def test_page_size_out_of_range_is_bad_user_input(gql: GraphQLClient, first: int) -> None:
    result = await gql("query($f: Int!) { residents(first: $f) { totalCount } }", {"f": first})

    assert result["data"] == {"residents": None}
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert result["errors"][0]["path"] == ["residents"]


async def test_cursor_not_issued_by_the_hub_is_bad_user_input(gql: GraphQLClient) -> None:
    result = await gql('{ residents(after: "not-a-cursor") { totalCount } }')

    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_syntax_error_is_answered_with_a_code_not_a_crash(gql: GraphQLClient) -> None:
    result = await gql("{ residents(first: ) { totalCount }")

    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unknown_field_gets_no_did_you_mean_suggestion(gql: GraphQLClient) -> None:
    result = await gql("{ residentz { totalCount } }")

    assert "Did you mean" not in result["errors"][0]["message"]


PAGE = """
query Page($after: String, $grid: ID, $filter: ResidentFilter) {
  residents(first: 2, after: $after, grid: $grid, filter: $filter) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def collect_ids(gql: GraphQLClient, **variables: Any) -> tuple[list[str], int]:
    ids: list[str] = []
    after = None
    while True:
        result = await gql(PAGE, {**variables, "after": after})
        assert "errors" not in result, result
        page = result["data"]["residents"]
        ids += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids, page["totalCount"]
        after = page["pageInfo"]["endCursor"]


async def test_paging_with_cursors_visits_every_resident_once(
    world: World, gql: GraphQLClient
) -> None:
    grids = await world.tree()
    created = [await world.resident(grids["410105001001001"]) for _ in range(5)]

    ids, total = await collect_ids(gql)

    assert sorted(ids) == sorted(r.id for r in created)
    assert total == 5


async def test_residents_of_a_grid_cover_its_whole_subtree_and_nothing_else(
    world: World, gql: GraphQLClient
) -> None:
    grids = await world.tree()
    inside = [
        await world.resident(grids["410105001001001"]),
        await world.resident(grids["410105001001002"]),
    ]
    await world.resident(grids["410105002001001"])

    ids, total = await collect_ids(gql, grid="410105001")

    assert sorted(ids) == sorted(r.id for r in inside)
    assert total == 2


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        pytest.param({"namePrefix": "王"}, {"wang"}, id="name-prefix"),
        pytest.param({"namePrefix": "%"}, set(), id="like-wildcards-are-literal"),
        pytest.param({"tag": "ELDERLY_ALONE"}, {"old"}, id="tag"),
        pytest.param({"minAge": 70}, {"old"}, id="min-age"),
        pytest.param({"maxAge": 10}, {"child"}, id="max-age"),
        pytest.param({"minAge": 8, "maxAge": 60}, {"wang", "child"}, id="age-range"),
        pytest.param({"hasRecordsIn": ["EDUCATION"]}, {"child"}, id="has-records-in"),
        pytest.param(
            {"hasRecordsIn": ["EDUCATION", "POLICE"]}, set(), id="all-departments-must-hold"
        ),
    ],
)
async def test_resident_filters_select_the_matching_residents(
    world: World, gql: GraphQLClient, filter_: dict[str, Any], expected: set[str]
) -> None:
    grids = await world.tree()
    building = grids["410105001001001"]
    today = local_today()
    people = {
        "wang": await world.resident(building, name="王伟", birth_date=date(today.year - 40, 1, 1)),
        "old": await world.resident(
            building, name="李秀英", birth_date=date(today.year - 80, 1, 1)
        ),
        "child": await world.resident(
            building, name="赵子涵", birth_date=date(today.year - 9, 1, 1)
        ),
    }
    await world.add(
        models.ResidentTagRow(resident_id=people["old"].id, tag=ResidentTag.ELDERLY_ALONE)
    )
    await world.record(
        models.SchoolEnrollment,
        people["child"],
        school="文化路第一小学",
        stage=SchoolStage.PRIMARY,
        grade=3,
        status=SchoolStatus.ENROLLED,
        enrolled_on=date(today.year - 3, 9, 1),
    )

    ids, total = await collect_ids(gql, filter=filter_)

    assert set(ids) == {people[key].id for key in expected}
    assert total == len(expected)


GRID = """
query Grid($code: ID!) {
  grid(code: $code) {
    code name level path residentCount
    parent { code }
    children { code level }
    members { name post kind phone }
  }
}
"""


async def test_grid_shows_its_tree_neighbours_board_and_subtree_resident_count(
    world: World, gql: GraphQLClient
) -> None:
    grids = await world.tree()
    community = grids["410105001001"]
    await world.member(
        community,
        name="刘建国",
        post=GridPost.GRID_CHIEF,
        kind=MemberKind.CADRE,
        phone="13900000000",
    )
    await world.resident(grids["410105001001001"])
    await world.resident(grids["410105001001002"])
    await world.resident(grids["410105002001001"])

    result = await gql(GRID, {"code": community.code})

    grid = result["data"]["grid"]
    assert grid["level"] == "COMMUNITY"
    assert grid["path"] == "410105/410105001/410105001001/"
    assert grid["parent"] == {"code": "410105001"}
    assert [c["code"] for c in grid["children"]] == ["410105001001001", "410105001001002"]
    assert grid["members"] == [
        {"name": "刘建国", "post": "GRID_CHIEF", "kind": "CADRE", "phone": "13900000000"}
    ]
    assert grid["residentCount"] == 2


async def test_grids_lists_by_level_and_by_parent(world: World, gql: GraphQLClient) -> None:
    await world.tree()

    streets = await gql("{ grids(level: STREET) { code } }")
    children = await gql('{ grids(parent: "410105001001") { code } }')

    assert [g["code"] for g in streets["data"]["grids"]] == ["410105001", "410105002"]
    assert [g["code"] for g in children["data"]["grids"]] == ["410105001001001", "410105001001002"]


async def test_query_nested_too_deep_is_query_too_complex(gql: GraphQLClient) -> None:
    deep = '{ grid(code: "410105") { ' + "children { " * 12 + "code" + " }" * 12 + " } }"

    result = await gql(deep)

    assert result["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_too_many_aliases_is_query_too_complex(gql: GraphQLClient) -> None:
    aliases = " ".join(f"a{i}: me {{ clientId }}" for i in range(31))

    result = await gql("{ " + aliases + " }")

    assert result["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_an_ordinary_validation_error_keeps_bad_user_input(gql: GraphQLClient) -> None:
    result = await gql("{ me { clientId } nope }")

    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
