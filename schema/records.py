"""Department record plumbing: the provenance interface and row-to-type conversion."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from sqlalchemy import Row

from hub.storage.models import SourceRecord

T = TypeVar("T")


@strawberry.interface(description="A record held by a department system, with its provenance.")
class DepartmentRecord:
    source: str = strawberry.field(description="The connector source the record came from.")
    source_record_id: str = strawberry.field(description="The record's id in that source.")
    source_updated_at: datetime = strawberry.field(
        description="When the source last changed the record."
    )


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def from_row(cls: type[T], row: Row[Any]) -> T:
    """Build a GraphQL type from a row whose columns carry the type's field names."""
    mapping = row._mapping
    return cls(**{name: mapping[name] for name in _field_names(cls)})


async def load_records(
    context: Any, model: type[SourceRecord], cls: type[T], resident_id: str
) -> list[T]:
    rows = await context.loaders.records(model).load(resident_id)
    return [from_row(cls, row) for row in rows]
