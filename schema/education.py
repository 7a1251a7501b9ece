"""Education: school enrollments (学籍)."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry import federation

from hub.storage import models
from schema.cost import assumed
from schema.department import DepartmentSchema
from schema.enums import SchoolStage, SchoolStatus
from schema.loads import loaded
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

    enrollments: list[SchoolEnrollment] = loaded(
        records(models.SchoolEnrollment, SchoolEnrollment),
        graphql_type=list[SchoolEnrollment],
        directives=[assumed(RECORDS)],
        description="School enrollments, newest first.",
    )


@strawberry.type
class EducationResidentFields:
    id: strawberry.ID

    @federation.field(requires_scopes=[["education:read"]], description="Education data.")
    def education(self) -> EducationProfile | None:
        return EducationProfile(resident_id=self.id)


DEPARTMENT = DepartmentSchema(name="education", resident_fields=EducationResidentFields)
