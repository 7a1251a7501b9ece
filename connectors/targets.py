"""What a stream's records become: one pydantic model per department record type, plus residents.

These mirror the hub's storage models column for column, without importing storage: a
connector validates its mapped records against them, and `hub/sync/` (the only writer)
turns them into rows. Enums come from `hub.vocabulary`, the one shared definition.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from hub.governance.enums import CaseCategory, CaseSubtype
from hub.vocabulary import (
    AssistanceType,
    ConditionStatus,
    ContractStatus,
    EnrollmentStatus,
    Gender,
    GrantStatus,
    HouseholdRelation,
    InsuranceScheme,
    InsuranceType,
    PermitStatus,
    PersonFlagType,
    RegistrationStatus,
    RegistrationType,
    SchoolStage,
    SchoolStatus,
)


class TargetRecord(BaseModel):
    """Base of the mapped record types: strict about unknown keys so typos fail loudly."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    # A record about one resident (its `id_number` required, the resident found or created);
    # False: the ID number is optional and only links the record to a resident if known.
    about_a_resident: ClassVar[bool] = True


class FamilyDoctorContractRecord(TargetRecord):
    doctor_name: str = Field(max_length=64)
    team: str | None = Field(default=None, max_length=128)
    institution: str = Field(max_length=128)
    service_package: str | None = Field(default=None, max_length=64)
    signed_on: date
    valid_until: date | None = None
    status: ContractStatus


class VaccinationRecord(TargetRecord):
    vaccine: str = Field(max_length=64)
    dose_number: int = Field(ge=1)
    administered_on: date
    institution: str | None = Field(default=None, max_length=128)
    batch_number: str | None = Field(default=None, max_length=64)


class ChronicConditionRecord(TargetRecord):
    condition: str = Field(max_length=64)
    icd10_code: str | None = Field(default=None, max_length=16)
    diagnosed_on: date | None = None
    status: ConditionStatus
    last_follow_up_on: date | None = None


class InsuranceEnrollmentRecord(TargetRecord):
    insurance_type: InsuranceType
    scheme: InsuranceScheme
    status: EnrollmentStatus
    enrolled_on: date
    employer: str | None = Field(default=None, max_length=128)


class AssistanceGrantRecord(TargetRecord):
    assistance_type: AssistanceType
    monthly_amount: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    start_on: date
    end_on: date | None = None
    status: GrantStatus


class SchoolEnrollmentRecord(TargetRecord):
    school: str = Field(max_length=128)
    stage: SchoolStage
    grade: int = Field(ge=0, le=12)
    class_name: str | None = Field(default=None, max_length=32)
    status: SchoolStatus
    enrolled_on: date


class HouseholdRegistrationRecord(TargetRecord):
    registration_type: RegistrationType
    household_number: str = Field(max_length=32)
    relation_to_head: HouseholdRelation
    registered_address: str = Field(max_length=255)
    registered_on: date
    police_station: str = Field(max_length=128)
    status: RegistrationStatus


class ResidencePermitRecord(TargetRecord):
    permit_number: str = Field(max_length=32)
    origin_region: str = Field(max_length=128)
    issued_on: date
    valid_until: date
    police_station: str = Field(max_length=128)
    status: PermitStatus


class PersonFlagRecord(TargetRecord):
    flag_type: PersonFlagType
    note: str | None = None
    flagged_on: date
    active: bool = True


class CaseRecord(TargetRecord):
    """An appeal from outside (the citizen hotline, 12345): becomes a REPORTED case, once.

    `grid_code` is the grid it happened in (usually the building); `category` defaults to the
    sub-type's. The ID number, if the source gives one and a resident has it, makes the
    case involve that resident. The hub owns the case from then on: later versions of the
    same source record change nothing (`hub.governance.cases.receive_external_case`).
    """

    about_a_resident: ClassVar[bool] = False
    grid_code: str = Field(max_length=32)
    subtype: CaseSubtype
    category: CaseCategory | None = None
    description: str = Field(min_length=1, max_length=4000)
    location: str | None = Field(default=None, max_length=255)
    group_appeal: bool = False
    petition_beyond_district: bool = False
    mass_incident: bool = False


class ResidentFields(TargetRecord):
    """What a creating stream (`creates_residents = true`) may say about the person.

    Gender and birth date default to what the ID number encodes; `grid_code` names the
    building grid; `household_number` links (or creates) the household.
    """

    name: str | None = Field(default=None, max_length=64)
    gender: Gender | None = None
    birth_date: date | None = None
    phone: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=255)
    grid_code: str | None = Field(default=None, max_length=32)
    household_number: str | None = Field(default=None, max_length=32)
    household_address: str | None = Field(default=None, max_length=255)


# One line per target; `hub/sync/` holds the matching storage model for each name.
TARGETS: dict[str, type[TargetRecord]] = {
    "family_doctor_contract": FamilyDoctorContractRecord,
    "vaccination": VaccinationRecord,
    "chronic_condition": ChronicConditionRecord,
    "insurance_enrollment": InsuranceEnrollmentRecord,
    "assistance_grant": AssistanceGrantRecord,
    "school_enrollment": SchoolEnrollmentRecord,
    "household_registration": HouseholdRegistrationRecord,
    "residence_permit": ResidencePermitRecord,
    "person_flag": PersonFlagRecord,
    "case": CaseRecord,
}

PROVENANCE_FIELDS = ("source_record_id", "source_updated_at", "id_number")


def required_provenance(model: type[TargetRecord]) -> tuple[str, ...]:
    """The provenance fields a stream of `model` must map (`id_number`: only about a resident)."""
    return PROVENANCE_FIELDS if model.about_a_resident else PROVENANCE_FIELDS[:2]
