"""SQLAlchemy models: the grid, residents and households, and every department record type."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from hub.storage.base import Base, UtcDateTime, enum_type, path_type, utcnow
from hub.vocabulary import (
    AssistanceType,
    ConditionStatus,
    ContractStatus,
    Department,
    EnrollmentStatus,
    Gender,
    GrantStatus,
    GridLevel,
    GridPost,
    HouseholdRelation,
    InsuranceScheme,
    InsuranceType,
    MemberKind,
    PermitStatus,
    PersonFlagType,
    RegistrationStatus,
    RegistrationType,
    ResidentTag,
    SchoolStage,
    SchoolStatus,
)


class Grid(Base):
    """A node of the district grid; `path` is the materialised ancestry (`410105/410105001/…/`)."""

    __tablename__ = "grids"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[GridLevel] = mapped_column(enum_type(GridLevel))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("grids.code", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(path_type(), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("path LIKE '%/'", name="path_ends_with_slash"),
        Index("ix_grids_level_parent", "level", "parent_code"),
    )


class GridMember(Base):
    """One line of a grid's responsibility board (责任牌)."""

    __tablename__ = "grid_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    post: Mapped[GridPost] = mapped_column(enum_type(GridPost))
    kind: Mapped[MemberKind] = mapped_column(enum_type(MemberKind))
    phone: Mapped[str | None] = mapped_column(String(32))


class Household(Base):
    """A household (户) living at one address in one building grid."""

    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    address: Mapped[str] = mapped_column(String(255))
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Resident(Base):
    """A person living in one building grid, keyed by an opaque stable id."""

    __tablename__ = "residents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    gender: Mapped[Gender] = mapped_column(enum_type(Gender))
    birth_date: Mapped[date] = mapped_column(Date, index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(255))
    household_id: Mapped[str | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), index=True)
    grid_path: Mapped[str] = mapped_column(path_type(), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (CheckConstraint("length(id_number) = 18", name="id_number_length"),)


class ResidentTagRow(Base):
    """A tag on a resident (独居老人, 残疾人 …); one row per tag so tag filters use an index."""

    __tablename__ = "resident_tags"

    resident_id: Mapped[str] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[ResidentTag] = mapped_column(enum_type(ResidentTag), primary_key=True, index=True)


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


# --- OAuth 2.0 ------------------------------------------------------------------------------

from sqlalchemy import JSON  # noqa: E402 - appended section; the import block above is shared

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")


class OAuthClient(Base):
    """A registered machine client (RFC 6749 §2): one role, a grid for grid-scoped roles.

    `allowed_scopes` (space-separated) narrows the role's scopes; NULL grants all of them.
    `secret_hash` (argon2id) serves client_secret_basic/post; `jwks` holds the public keys
    of a private_key_jwt client (RFC 7523 §2.2).
    """

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(64))
    grid_code: Mapped[str | None] = mapped_column(
        ForeignKey("grids.code", ondelete="RESTRICT"), index=True
    )
    allowed_scopes: Mapped[str | None] = mapped_column(String(1024))
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    jwks: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        CheckConstraint(
            "token_endpoint_auth_method IN "
            "('client_secret_basic', 'client_secret_post', 'private_key_jwt')",
            name="token_endpoint_auth_method",
        ),
        CheckConstraint(
            "(token_endpoint_auth_method = 'private_key_jwt' AND jwks IS NOT NULL)"
            " OR (token_endpoint_auth_method <> 'private_key_jwt' AND secret_hash IS NOT NULL)",
            name="credentials_present",
        ),
    )


class RevokedToken(Base):
    """An access token revoked before its expiry (RFC 7009); kept until `expires_at`."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class UsedClientAssertion(Base):
    """A private_key_jwt assertion already used, refused on replay (RFC 7523 §3, item 7)."""

    __tablename__ = "used_client_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


# --- connectors -----------------------------------------------------------------------------

from enum import StrEnum  # noqa: E402 - appended section; the import block above is shared


class RunStatus(StrEnum):
    """How a connector run ended; RUNNING rows left by a killed process are closed as FAILED."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # another replica held the stream's lock


class QuarantineReason(StrEnum):
    """Why a record was refused; each names what must change before a retry can succeed."""

    INVALID_ID_NUMBER = "INVALID_ID_NUMBER"  # detail: the IdNumberReason
    UNMATCHED_RESIDENT = "UNMATCHED_RESIDENT"  # no resident with that number (yet)
    SCHEMA_ERROR = "SCHEMA_ERROR"  # detail: pydantic's field errors
    CONFLICT = "CONFLICT"  # the record contradicts what the hub holds


class ConnectorState(Base):
    """A stream's cursor; written in the same transaction as the batch it covers."""

    __tablename__ = "connector_state"

    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ConnectorRun(Base):
    """One run of one stream, with its counts (read = inserted + updated + unchanged + quarantined)."""

    __tablename__ = "connector_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus))
    full: Mapped[bool] = mapped_column(default=False)
    cursor_before: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    cursor_after: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    read: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_connector_runs_stream_started", "connector", "stream", "started_at"),
    )


class QuarantinedRecord(Base):
    """A refused record with its raw payload; one row per (connector, stream, record_key).

    `record_key` is the source record id when the payload yields one, else `sha256:<payload hash>`,
    so re-reading the same bad record updates its row instead of adding another.
    """

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(String(128))
    source_record_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[QuarantineReason] = mapped_column(enum_type(QuarantineReason), index=True)
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[object | None] = mapped_column(JSON(none_as_null=True))
    payload: Mapped[dict[str, object]] = mapped_column(JSON())
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("connector", "stream", "record_key"),)
