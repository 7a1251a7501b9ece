"""The department registry: one line per department; `Resident` and the subgraphs follow it."""

from __future__ import annotations

from schema import education, health, police, social_security
from schema.department import DepartmentSchema

DEPARTMENTS: tuple[DepartmentSchema, ...] = (
    health.DEPARTMENT,
    social_security.DEPARTMENT,
    education.DEPARTMENT,
    police.DEPARTMENT,
)
