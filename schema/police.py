"""Police: household registration (户籍), residence permits (居住证), (sensitive) person flags."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry import federation

from hub.storage import models
from schema.department import DepartmentSchema, Info
from schema.enums import (
    HouseholdRelation,
    PermitStatus,
    PersonFlagType,
    RegistrationStatus,
    RegistrationType,
)
from schema.records import DepartmentRecord, load_records


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

    @strawberry.field(description="The current household registration, if registered here.")
    async def household_registration(self, info: Info) -> HouseholdRegistration | None:
        registrations = await load_records(
            info.context, models.HouseholdRegistration, HouseholdRegistration, self.resident_id
        )
        return registrations[0] if registrations else None

    @strawberry.field(description="The newest residence permit, if any.")
    async def residence_permit(self, info: Info) -> ResidencePermit | None:
        permits = await load_records(
            info.context, models.ResidencePermit, ResidencePermit, self.resident_id
        )
        return permits[0] if permits else None

    @federation.field(requires_scopes=[["police:sensitive"]], description="Sensitive flags.")
    async def flags(self, info: Info) -> list[PersonFlag] | None:
        return await load_records(info.context, models.PersonFlag, PersonFlag, self.resident_id)


@strawberry.type
class PoliceResidentFields:
    id: strawberry.ID

    @federation.field(requires_scopes=[["police:read"]], description="Police data.")
    def police(self) -> PoliceProfile | None:
        return PoliceProfile(resident_id=self.id)


DEPARTMENT = DepartmentSchema(name="police", resident_fields=PoliceResidentFields)
