"""Police: household registration (户籍), residence permits (居住证), (sensitive) person flags."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from hub.storage import models
from schema.cost import assumed
from schema.department import DepartmentSchema
from schema.enums import (
    HouseholdRelation,
    PermitStatus,
    PersonFlagType,
    RegistrationStatus,
    RegistrationType,
)
from schema.loads import derived, loaded, newest
from schema.records import RECORDS, DepartmentRecord, records


@strawberry.type(description="户籍: registration in the household register.")
class HouseholdRegistration(DepartmentRecord):
    registration_type: RegistrationType
    household_number: str
    relation_to_head: HouseholdRelation
    registered_address: str
    registered_on: date
    police_station: str
    status: RegistrationStatus


@strawberry.type(description="居住证: a residence permit held by a resident registered elsewhere.")
class ResidencePermit(DepartmentRecord):
    permit_number: str
    origin_region: str
    issued_on: date
    valid_until: date
    police_station: str
    status: PermitStatus


@strawberry.type(description="A police attention flag (sensitive).")
class PersonFlag(DepartmentRecord):
    flag_type: PersonFlagType
    note: str | None
    flagged_on: date
    active: bool


@strawberry.type(description="What the public security bureau holds about a resident.")
class PoliceProfile:
    resident_id: strawberry.Private[str]

    @classmethod
    def of(cls, resident: Any) -> PoliceProfile:
        return cls(resident_id=resident.id)

    household_registration: HouseholdRegistration | None = loaded(
        records(models.HouseholdRegistration, HouseholdRegistration, newest),
        graphql_type=HouseholdRegistration | None,
        description="The current household registration, if registered here.",
    )
    residence_permit: ResidencePermit | None = loaded(
        records(models.ResidencePermit, ResidencePermit, newest),
        graphql_type=ResidencePermit | None,
        description="The newest residence permit, if any.",
    )
    flags: list[PersonFlag] | None = loaded(
        records(models.PersonFlag, PersonFlag),
        graphql_type=list[PersonFlag] | None,
        directives=[assumed(RECORDS)],
        description="Sensitive flags.",
        requires_scopes=[["police:sensitive"]],
    )


@strawberry.type
class PoliceResidentFields:
    id: strawberry.ID

    police: PoliceProfile | None = derived(
        PoliceProfile.of,
        graphql_type=PoliceProfile | None,
        description="Police data.",
        requires_scopes=[["police:read"]],
    )


DEPARTMENT = DepartmentSchema(name="police", resident_fields=PoliceResidentFields)
