"""What a department module contributes: a profile field on `Resident` and its own subgraph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schema.context import Info

__all__ = ["DepartmentSchema", "Info"]


@dataclass(frozen=True)
class DepartmentSchema:
    """A department's part of the schema, registered once in `schema/departments.py`.

    `resident_fields` is a strawberry type with `id` and the department's profile field;
    it is mixed into the unified `Resident` and becomes the department subgraph's
    `Resident` entity.
    """

    name: str
    resident_fields: type[Any]
