"""Which department record types a caller may read, read off the schema's own declarations.

A record type is reached through a profile field on `Resident` (`health`, `police` …) and a
profile field that loads it (`records(Model, Type)`): a caller needs one scope set of each
`@requiresScopes`. Provenance (`Resident.sources`) and record filters (`hasRecordsIn`) ask this
table, so neither tells a caller that records exist which it could not read, and there is no
second list of scopes to drift from the SDL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from strawberry.federation.schema_directives import RequiresScopes

from schema.access import Alternatives
from schema.department import DepartmentSchema
from schema.loads import LOAD, Load
from schema.records import record_model


@dataclass(frozen=True)
class RecordAccess:
    """Record type (table name) → the scope sets that open it."""

    alternatives: Mapping[str, Alternatives]

    def readable(self, scopes: frozenset[str]) -> frozenset[str]:
        """The record types a caller holding `scopes` may read."""
        return frozenset(
            table
            for table, alternatives in self.alternatives.items()
            if any(needed <= scopes for needed in alternatives)
        )

    def needed(self, tables: Iterable[str]) -> str:
        """The scopes that would open any of `tables`, for a refusal's message."""
        options = {
            " + ".join(sorted(scopes))
            for table in tables
            for scopes in self.alternatives.get(table, ())
        }
        return " or ".join(sorted(options, key=len))


def record_access(departments: Iterable[DepartmentSchema]) -> RecordAccess:
    found: dict[str, set[frozenset[str]]] = {}
    for department in departments:
        for profile_field in department.resident_fields.__strawberry_definition__.fields:
            profile = _object_type(profile_field.type)
            if profile is None:
                continue
            outer = _scopes(profile_field)
            for field in profile.__strawberry_definition__.fields:
                load: Load | None = (field.metadata or {}).get(LOAD)
                model = record_model(load.batch) if load is not None else None
                if model is not None:
                    combined = {a | b for a in outer for b in _scopes(field)}
                    found.setdefault(model.__tablename__, set()).update(combined)
    return RecordAccess({table: tuple(sets) for table, sets in found.items()})


def _scopes(field: Any) -> Alternatives:
    """A strawberry field's `@requiresScopes` (no declaration: open, the empty set)."""
    for directive in getattr(field, "directives", ()):
        if isinstance(directive, RequiresScopes):
            return tuple(frozenset(scopes) for scopes in directive.scopes)
    return (frozenset(),)


def _object_type(type_: Any) -> Any:
    """The strawberry object type inside optional and list wrappers, or None."""
    while not hasattr(type_, "__strawberry_definition__"):
        type_ = getattr(type_, "of_type", None)
        if type_ is None:
            return None
    return type_
