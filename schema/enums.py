"""The hub's code lists registered as GraphQL enums: the same Python enums, declared once."""

from __future__ import annotations

import strawberry

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

strawberry.enum(GridLevel, description="Level in the district grid.")
strawberry.enum(GridPost, description="Post on a responsibility board.")
strawberry.enum(MemberKind, description="Who fills a board post.")
strawberry.enum(Gender)
strawberry.enum(ResidentTag, description="Care and attention tags.")
strawberry.enum(Department, description="A department system.")
strawberry.enum(ContractStatus)
strawberry.enum(ConditionStatus)
strawberry.enum(InsuranceType)
strawberry.enum(InsuranceScheme)
strawberry.enum(EnrollmentStatus)
strawberry.enum(AssistanceType)
strawberry.enum(GrantStatus)
strawberry.enum(SchoolStage)
strawberry.enum(SchoolStatus)
strawberry.enum(RegistrationType)
strawberry.enum(HouseholdRelation)
strawberry.enum(RegistrationStatus)
strawberry.enum(PermitStatus)
strawberry.enum(PersonFlagType)

__all__ = [
    "AssistanceType",
    "ConditionStatus",
    "ContractStatus",
    "Department",
    "EnrollmentStatus",
    "Gender",
    "GrantStatus",
    "GridLevel",
    "GridPost",
    "HouseholdRelation",
    "InsuranceScheme",
    "InsuranceType",
    "MemberKind",
    "PermitStatus",
    "PersonFlagType",
    "RegistrationStatus",
    "RegistrationType",
    "ResidentTag",
    "SchoolStage",
    "SchoolStatus",
]
