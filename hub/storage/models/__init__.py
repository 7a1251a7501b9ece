"""SQLAlchemy models, one module per domain; importing this package registers every table.

Alembic's environment imports it once, so a new domain module is added here and nowhere else.
"""

from __future__ import annotations

from hub.storage.models.audit import (
    AuditChain,
    AuditCheckpoint,
    AuditEvent,
    AuditResidentAccess,
)
from hub.storage.models.connectors import (
    ConnectorRun,
    ConnectorState,
    QuarantinedRecord,
    QuarantineReason,
    RunStatus,
)
from hub.storage.models.core import Grid, GridMember, Household, Resident, ResidentTagRow
from hub.storage.models.fields import FieldKey, FieldKeyState
from hub.storage.models.governance import (
    Case,
    CaseAssignment,
    CaseHousehold,
    CaseResident,
    CaseTrace,
    IdempotencyKey,
    JointMeeting,
    JointMeetingCase,
    JointMeetingParticipant,
    Patrol,
    PatrolFinding,
    Visit,
    VisitResident,
)
from hub.storage.models.limits import HarvestAlert, HarvestRead, LoginFailures, RateBucket
from hub.storage.models.oauth import (
    CLIENT_AUTH_METHODS,
    BlockedClient,
    OAuthClient,
    RevokedToken,
    UsedClientAssertion,
)
from hub.storage.models.records import (
    DEPARTMENT_MODELS,
    DEPARTMENT_RECORD_MODELS,
    SENSITIVE_MODELS,
    AssistanceGrant,
    ChronicCondition,
    FamilyDoctorContract,
    HouseholdRegistration,
    InsuranceEnrollment,
    PersonFlag,
    ResidencePermit,
    SchoolEnrollment,
    SourceRecord,
    Vaccination,
)
from hub.storage.models.staff import AuthorizationCode, StaffSession, StaffUser

__all__ = [
    "CLIENT_AUTH_METHODS",
    "DEPARTMENT_MODELS",
    "DEPARTMENT_RECORD_MODELS",
    "SENSITIVE_MODELS",
    "AssistanceGrant",
    "AuditChain",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditResidentAccess",
    "AuthorizationCode",
    "BlockedClient",
    "Case",
    "CaseAssignment",
    "CaseHousehold",
    "CaseResident",
    "CaseTrace",
    "ChronicCondition",
    "ConnectorRun",
    "ConnectorState",
    "FamilyDoctorContract",
    "FieldKey",
    "FieldKeyState",
    "Grid",
    "GridMember",
    "HarvestAlert",
    "HarvestRead",
    "Household",
    "HouseholdRegistration",
    "IdempotencyKey",
    "InsuranceEnrollment",
    "JointMeeting",
    "JointMeetingCase",
    "JointMeetingParticipant",
    "LoginFailures",
    "OAuthClient",
    "Patrol",
    "PatrolFinding",
    "PersonFlag",
    "QuarantineReason",
    "QuarantinedRecord",
    "RateBucket",
    "ResidencePermit",
    "Resident",
    "ResidentTagRow",
    "RevokedToken",
    "RunStatus",
    "SchoolEnrollment",
    "SourceRecord",
    "StaffSession",
    "StaffUser",
    "UsedClientAssertion",
    "Vaccination",
    "Visit",
    "VisitResident",
]
