"""Education: school enrollments (学籍)."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry

from hub.storage import models
from schema.cost import assumed
from schema.department import DepartmentSchema
from schema.enums import SchoolStage, SchoolStatus
from schema.loads import derived, loaded
from schema.records import RECORDS, DepartmentRecord, records


@strawberry.type(description="学籍: enrollment at one school.")
class SchoolEnrollment(DepartmentRecord):
    school: str
    stage: SchoolStage
    grade: int
    class_name: str | None
    status: SchoolStatus
    enrolled_on: date


@strawberry.type(description="What the education bureau holds about a resident.")
class EducationProfile:
    resident_id: strawberry.Private[str]

    @classmethod
    def of(cls, resident: Any) -> EducationProfile:
        return cls(resident_id=resident.id)

    enrollments: list[SchoolEnrollment] = loaded(
        records(models.SchoolEnrollment, SchoolEnrollment),
        graphql_type=list[SchoolEnrollment],
        directives=[assumed(RECORDS)],
        description="School enrollments, newest first.",
    )


@strawberry.type
class EducationResidentFields:
    id: strawberry.ID

    education: EducationProfile | None = derived(
        EducationProfile.of,
        graphql_type=EducationProfile | None,
        description="Education data.",
        requires_scopes=[["education:read"]],
    )


DEPARTMENT = DepartmentSchema(name="education", resident_fields=EducationResidentFields)
