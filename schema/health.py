"""Health: family doctor contracts, vaccinations and (sensitive) chronic conditions."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from hub.storage import models
from schema.cost import assumed
from schema.department import DepartmentSchema
from schema.enums import ConditionStatus, ContractStatus
from schema.loads import derived, first_where, loaded
from schema.records import RECORDS, DepartmentRecord, records


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


def _active(contract: FamilyDoctorContract) -> bool:
    return contract.status == ContractStatus.ACTIVE


@strawberry.type(description="What the health department holds about a resident.")
class HealthProfile:
    resident_id: strawberry.Private[str]

    @classmethod
    def of(cls, resident: Any) -> HealthProfile:
        return cls(resident_id=resident.id)

    family_doctor_contracts: list[FamilyDoctorContract] = loaded(
        records(models.FamilyDoctorContract, FamilyDoctorContract),
        graphql_type=list[FamilyDoctorContract],
        directives=[assumed(RECORDS)],
        description="Family doctor contracts, newest first.",
    )
    family_doctor: FamilyDoctorContract | None = loaded(
        records(
            models.FamilyDoctorContract,
            FamilyDoctorContract,
            first_where(_active),
            needs=frozenset({"status"}),
        ),
        graphql_type=FamilyDoctorContract | None,
        description="The active family doctor contract, if any.",
    )
    vaccinations: list[Vaccination] = loaded(
        records(models.Vaccination, Vaccination),
        graphql_type=list[Vaccination],
        directives=[assumed(RECORDS)],
        description="Vaccine doses, newest first.",
    )
    chronic_conditions: list[ChronicCondition] | None = loaded(
        records(models.ChronicCondition, ChronicCondition),
        graphql_type=list[ChronicCondition] | None,
        directives=[assumed(RECORDS)],
        description="Chronic conditions under management. Sensitive.",
        requires_scopes=[["health:sensitive"]],
    )


@strawberry.type
class HealthResidentFields:
    id: strawberry.ID

    health: HealthProfile | None = derived(
        HealthProfile.of,
        graphql_type=HealthProfile | None,
        description="Health department data.",
        requires_scopes=[["health:read"]],
    )


DEPARTMENT = DepartmentSchema(name="health", resident_fields=HealthResidentFields)
