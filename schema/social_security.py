"""Social security: insurance enrollments and social assistance grants."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import strawberry

from hub.storage import models
from schema.cost import assumed
from schema.department import DepartmentSchema
from schema.enums import (
    AssistanceType,
    EnrollmentStatus,
    GrantStatus,
    InsuranceScheme,
    InsuranceType,
)
from schema.loads import derived, loaded
from schema.records import RECORDS, DepartmentRecord, records


@strawberry.type(description="社会保险参保: enrollment in one insurance.")
class InsuranceEnrollment(DepartmentRecord):
    insurance_type: InsuranceType
    scheme: InsuranceScheme
    status: EnrollmentStatus
    enrolled_on: date
    employer: str | None


@strawberry.type(
    description="社会救助: a social assistance grant (低保, 特困, disability allowance)."
)
class AssistanceGrant(DepartmentRecord):
    assistance_type: AssistanceType
    monthly_amount: Decimal
    start_on: date
    end_on: date | None
    status: GrantStatus


@strawberry.type(description="What the social security bureau holds about a resident.")
class SocialSecurityProfile:
    resident_id: strawberry.Private[str]

    @classmethod
    def of(cls, resident: Any) -> SocialSecurityProfile:
        return cls(resident_id=resident.id)

    insurance_enrollments: list[InsuranceEnrollment] = loaded(
        records(models.InsuranceEnrollment, InsuranceEnrollment),
        graphql_type=list[InsuranceEnrollment],
        directives=[assumed(RECORDS)],
        description="Insurance enrollments, newest first.",
    )
    assistance_grants: list[AssistanceGrant] = loaded(
        records(models.AssistanceGrant, AssistanceGrant),
        graphql_type=list[AssistanceGrant],
        directives=[assumed(RECORDS)],
        description="Social assistance grants, newest first.",
    )


@strawberry.type
class SocialSecurityResidentFields:
    id: strawberry.ID

    social_security: SocialSecurityProfile | None = derived(
        SocialSecurityProfile.of,
        graphql_type=SocialSecurityProfile | None,
        description="Social security data.",
        requires_scopes=[["social:read"]],
    )


DEPARTMENT = DepartmentSchema(name="social_security", resident_fields=SocialSecurityResidentFields)
