"""Department records: the provenance every record carries, and one table per record type."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from hub.storage.base import Base, UtcDateTime, enum_type, utcnow
from hub.vocabulary import (
    AssistanceType,
    ConditionStatus,
    ContractStatus,
    Department,
    EnrollmentStatus,
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


class SourceRecord(Base):
    """Provenance shared by every department record: which system said it, and when."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    source_record_id: Mapped[str] = mapped_column(String(128))
    source_updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    @declared_attr
    def resident_id(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        return (UniqueConstraint("source", "source_record_id"),)


# --- health ---------------------------------------------------------------------------------


class FamilyDoctorContract(SourceRecord):
    """家庭医生签约."""

    __tablename__ = "health_family_doctor_contracts"

    doctor_name: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(128))
    institution: Mapped[str] = mapped_column(String(128))
    service_package: Mapped[str | None] = mapped_column(String(64))
    signed_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[ContractStatus] = mapped_column(enum_type(ContractStatus))


class Vaccination(SourceRecord):
    """预防接种记录."""

    __tablename__ = "health_vaccinations"

    vaccine: Mapped[str] = mapped_column(String(64))
    dose_number: Mapped[int] = mapped_column(Integer)
    administered_on: Mapped[date] = mapped_column(Date)
    institution: Mapped[str | None] = mapped_column(String(128))
    batch_number: Mapped[str | None] = mapped_column(String(64))


class ChronicCondition(SourceRecord):
    """慢性病管理 (sensitive: `health:sensitive`)."""

    __tablename__ = "health_chronic_conditions"

    condition: Mapped[str] = mapped_column(String(64))
    icd10_code: Mapped[str | None] = mapped_column(String(16))
    diagnosed_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[ConditionStatus] = mapped_column(enum_type(ConditionStatus))
    last_follow_up_on: Mapped[date | None] = mapped_column(Date)


# --- social security ------------------------------------------------------------------------


class InsuranceEnrollment(SourceRecord):
    """社会保险参保 (养老/医疗/失业/工伤/生育)."""

    __tablename__ = "social_insurance_enrollments"

    insurance_type: Mapped[InsuranceType] = mapped_column(enum_type(InsuranceType))
    scheme: Mapped[InsuranceScheme] = mapped_column(enum_type(InsuranceScheme))
    status: Mapped[EnrollmentStatus] = mapped_column(enum_type(EnrollmentStatus))
    enrolled_on: Mapped[date] = mapped_column(Date)
    employer: Mapped[str | None] = mapped_column(String(128))


class AssistanceGrant(SourceRecord):
    """社会救助 (低保, 特困, 残疾人补贴)."""

    __tablename__ = "social_assistance_grants"

    assistance_type: Mapped[AssistanceType] = mapped_column(enum_type(AssistanceType))
    monthly_amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[GrantStatus] = mapped_column(enum_type(GrantStatus))


# --- education ------------------------------------------------------------------------------


class SchoolEnrollment(SourceRecord):
    """学籍."""

    __tablename__ = "education_school_enrollments"

    school: Mapped[str] = mapped_column(String(128))
    stage: Mapped[SchoolStage] = mapped_column(enum_type(SchoolStage))
    grade: Mapped[int] = mapped_column(Integer)
    class_name: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[SchoolStatus] = mapped_column(enum_type(SchoolStatus))
    enrolled_on: Mapped[date] = mapped_column(Date)


# --- police ---------------------------------------------------------------------------------


class HouseholdRegistration(SourceRecord):
    """户籍登记; the police register is the authority that creates residents."""

    __tablename__ = "police_household_registrations"

    registration_type: Mapped[RegistrationType] = mapped_column(enum_type(RegistrationType))
    household_number: Mapped[str] = mapped_column(String(32))
    relation_to_head: Mapped[HouseholdRelation] = mapped_column(enum_type(HouseholdRelation))
    registered_address: Mapped[str] = mapped_column(String(255))
    registered_on: Mapped[date] = mapped_column(Date)
    police_station: Mapped[str] = mapped_column(String(128))
    status: Mapped[RegistrationStatus] = mapped_column(enum_type(RegistrationStatus))


class ResidencePermit(SourceRecord):
    """居住证, held by migrants registered elsewhere."""

    __tablename__ = "police_residence_permits"

    permit_number: Mapped[str] = mapped_column(String(32))
    origin_region: Mapped[str] = mapped_column(String(128))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    police_station: Mapped[str] = mapped_column(String(128))
    status: Mapped[PermitStatus] = mapped_column(enum_type(PermitStatus))


class PersonFlag(SourceRecord):
    """Police attention flag (sensitive: `police:sensitive`)."""

    __tablename__ = "police_person_flags"

    flag_type: Mapped[PersonFlagType] = mapped_column(enum_type(PersonFlagType))
    note: Mapped[str | None] = mapped_column(Text)
    flagged_on: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(default=True)


DEPARTMENT_RECORD_MODELS: tuple[type[SourceRecord], ...] = (
    FamilyDoctorContract,
    Vaccination,
    ChronicCondition,
    InsuranceEnrollment,
    AssistanceGrant,
    SchoolEnrollment,
    HouseholdRegistration,
    ResidencePermit,
    PersonFlag,
)

DEPARTMENT_MODELS: dict[Department, tuple[type[SourceRecord], ...]] = {
    Department.HEALTH: (FamilyDoctorContract, Vaccination, ChronicCondition),
    Department.SOCIAL_SECURITY: (InsuranceEnrollment, AssistanceGrant),
    Department.EDUCATION: (SchoolEnrollment,),
    Department.POLICE: (HouseholdRegistration, ResidencePermit, PersonFlag),
}

# Record types whose mere existence is sensitive; they never appear in provenance summaries.
SENSITIVE_MODELS: frozenset[type[SourceRecord]] = frozenset({ChronicCondition, PersonFlag})
