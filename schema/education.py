"""Education: school enrollments (学籍)."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry import federation

from hub.storage import models
from schema.department import DepartmentSchema, Info
from schema.enums import SchoolStage, SchoolStatus
from schema.records import DepartmentRecord, load_records


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

    @strawberry.field(description="School enrollments, newest first.")
    async def enrollments(self, info: Info) -> list[SchoolEnrollment]:
        return await load_records(
            info.context, models.SchoolEnrollment, SchoolEnrollment, self.resident_id
        )


@strawberry.type
class EducationResidentFields:
    id: strawberry.ID

    @federation.field(requires_scopes=[["education:read"]], description="Education data.")
    def education(self) -> EducationProfile | None:
        return EducationProfile(resident_id=self.id)


DEPARTMENT = DepartmentSchema(name="education", resident_fields=EducationResidentFields)
