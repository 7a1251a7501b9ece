"""Level loads are declarations on fields: a planner can read them and fetch a level at once."""

from __future__ import annotations

from datetime import date

import pytest
from graphql import GraphQLObjectType
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import local_today
from hub.storage import models
from hub.storage.session import RequestDatabase
from hub.vocabulary import ContractStatus
from schema.build import build_schema
from schema.health import FamilyDoctorContract
from schema.loads import Load, Loaders, LoadScope, load_of
from tests.conftest import GraphQLClient, World

GRAPHQL = build_schema()._schema

# Every field that reads from the database below the root: each must declare its load.
LOADED_FIELDS = [
    "HealthProfile.familyDoctorContracts",
    "HealthProfile.familyDoctor",
    "HealthProfile.vaccinations",
    "HealthProfile.chronicConditions",
    "SocialSecurityProfile.insuranceEnrollments",
    "SocialSecurityProfile.assistanceGrants",
    "EducationProfile.enrollments",
    "PoliceProfile.householdRegistration",
    "PoliceProfile.residencePermit",
    "PoliceProfile.flags",
    "Resident.grid",
    "Resident.household",
    "Resident.tags",
    "Resident.sources",
    "Grid.parent",
    "Grid.children",
    "Grid.members",
    "Grid.residentCount",
]


def declared(coordinate: str) -> Load:
    type_name, field_name = coordinate.split(".")
    type_ = GRAPHQL.type_map[type_name]
    assert isinstance(type_, GraphQLObjectType)
    load = load_of(type_.fields[field_name])
    assert load is not None, f"{coordinate} declares no load"
    return load


@pytest.mark.parametrize("coordinate", LOADED_FIELDS)
def test_field_declares_its_load(coordinate: str) -> None:
    load = declared(coordinate)
    assert load.key in {
        "resident_id",
        "id",
        "grid_code",
        "household_id",
        "code",
        "parent_code",
        "path",
    }


def test_fields_of_one_record_type_share_one_batch() -> None:
    contracts = declared("HealthProfile.familyDoctorContracts")
    active = declared("HealthProfile.familyDoctor")
    assert contracts.batch is active.batch
    assert contracts.pick is not active.pick


def test_plain_columns_declare_no_load() -> None:
    resident = GRAPHQL.type_map["Resident"]
    assert isinstance(resident, GraphQLObjectType)
    assert load_of(resident.fields["name"]) is None


async def test_a_department_field_resolves_through_its_declaration(
    world: World, engine: AsyncEngine, gql: GraphQLClient
) -> None:
    grids = await world.tree()
    resident = await world.resident(grids["410105001001001"])
    for signed, status in [
        (date(2020, 1, 1), ContractStatus.EXPIRED),
        (date(2024, 1, 1), ContractStatus.ACTIVE),
    ]:
        await world.record(
            models.FamilyDoctorContract,
            resident,
            doctor_name=f"医生{signed.year}",
            institution="社区卫生服务中心",
            signed_on=signed,
            status=status,
        )
    contracts = declared("HealthProfile.familyDoctorContracts")
    active = declared("HealthProfile.familyDoctor")
    loaders = Loaders(RequestDatabase(engine), LoadScope(within_path=None, today=local_today()))

    try:
        fetched = await loaders.fetch(contracts.batch, [resident.id, "r-nobody"])
    finally:
        await loaders.database.close()
    every = contracts.value(fetched[resident.id])
    chosen = active.value(fetched[resident.id])
    answer = await gql(
        "query($id: ID!) { resident(id: $id) { health { familyDoctor { doctorName } "
        "familyDoctorContracts { doctorName } } } }",
        {"id": resident.id},
    )

    assert all(isinstance(contract, FamilyDoctorContract) for contract in every)
    assert isinstance(chosen, FamilyDoctorContract)
    assert chosen.status == ContractStatus.ACTIVE
    assert fetched["r-nobody"] == []
    health = answer["data"]["resident"]["health"]
    assert health["familyDoctor"] == {"doctorName": chosen.doctor_name}
    assert health["familyDoctorContracts"] == [{"doctorName": c.doctor_name} for c in every]
