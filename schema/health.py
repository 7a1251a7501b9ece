"""Health: family doctor contracts, vaccinations and (sensitive) chronic conditions."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry import federation

from hub.storage import models
from schema.department import DepartmentSchema, Info
from schema.enums import ConditionStatus, ContractStatus
from schema.records import DepartmentRecord, load_records


@strawberry.type(description="家庭医生签约: a family doctor contract.")
class FamilyDoctorContract(DepartmentRecord):
    doctor_name: str
    team: str | None
    institution: str
    service_package: str | None
    signed_on: date
    valid_until: date | None
    status: ContractStatus


@strawberry.type(description="预防接种: one vaccine dose.")
class Vaccination(DepartmentRecord):
    vaccine: str
    dose_number: int
    administered_on: date
    institution: str | None
    batch_number: str | None


@strawberry.type(description="慢性病管理: a managed chronic condition (sensitive).")
class ChronicCondition(DepartmentRecord):
    condition: str
    icd10_code: str | None
    diagnosed_on: date | None
    status: ConditionStatus
    last_follow_up_on: date | None


@strawberry.type(description="What the health department holds about a resident.")
class HealthProfile:
    resident_id: strawberry.Private[str]

    @strawberry.field(description="Family doctor contracts, newest first.")
    async def family_doctor_contracts(self, info: Info) -> list[FamilyDoctorContract]:
        return await load_records(
            info.context, models.FamilyDoctorContract, FamilyDoctorContract, self.resident_id
        )

    @strawberry.field(description="The active family doctor contract, if any.")
    async def family_doctor(self, info: Info) -> FamilyDoctorContract | None:
        contracts = await self.family_doctor_contracts(info)
        return next((c for c in contracts if c.status == ContractStatus.ACTIVE), None)

    @strawberry.field(description="Vaccine doses, newest first.")
    async def vaccinations(self, info: Info) -> list[Vaccination]:
        return await load_records(info.context, models.Vaccination, Vaccination, self.resident_id)

    @federation.field(
        requires_scopes=[["health:sensitive"]],
        description="Chronic conditions under management. Sensitive.",
    )
    async def chronic_conditions(self, info: Info) -> list[ChronicCondition] | None:
        return await load_records(
            info.context, models.ChronicCondition, ChronicCondition, self.resident_id
        )


@strawberry.type
class HealthResidentFields:
    id: strawberry.ID

    @federation.field(requires_scopes=[["health:read"]], description="Health department data.")
    def health(self) -> HealthProfile | None:
        return HealthProfile(resident_id=self.id)


DEPARTMENT = DepartmentSchema(name="health", resident_fields=HealthResidentFields)
