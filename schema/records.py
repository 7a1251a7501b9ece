"""Department record plumbing: the provenance interface, row-to-type conversion, record loads."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage import residents
from hub.storage.keyed_union import KeyedTable
from hub.storage.models import SourceRecord
from schema.loads import Batch, Keyed, Load, LoadScope, every

T = TypeVar("T")

# A resident's records of one kind, as costed (`@listSize(assumedSize:)`): vaccine doses run
# to a couple of dozen for a child, most kinds to one or two.
RECORDS = 10


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


_BATCHES: dict[type[SourceRecord], Batch] = {}
_MODELS: dict[Batch, type[SourceRecord]] = {}


def records_batch(model: type[SourceRecord]) -> Batch:
    """Every record of one type per resident, newest first (one batch per model; a level
    needing several types reads them in one statement)."""
    batch = _BATCHES.get(model)
    if batch is None:

        async def fetch(
            connection: AsyncConnection, ids: Sequence[str], _: LoadScope
        ) -> dict[str, list[Row[Any]]]:
            return await residents.records_by_resident(connection, model, ids)

        async def select(
            connection: AsyncConnection, ids: Sequence[str], _: LoadScope, columns: frozenset[str]
        ) -> dict[str, list[Row[Any]]]:
            return await residents.records_by_resident(connection, model, ids, columns=columns)

        keyed = Keyed(KeyedTable(model.__table__, "resident_id", newest_first=True))
        batch = _BATCHES[model] = Batch(model.__tablename__, fetch, select=select, keyed=keyed)
        _MODELS[batch] = model
    return batch


def record_model(batch: Batch) -> type[SourceRecord] | None:
    """The record type a batch loads, if it is one of `records_batch`'s."""
    return _MODELS.get(batch)


def records(
    model: type[SourceRecord],
    cls: type[Any],
    pick: Callable[[list[Any]], Any] = every,
    *,
    needs: frozenset[str] = frozenset(),
) -> Load:
    """A profile field's load: the `model` records of the profile's resident as `cls`
    (whose fields are the table's columns); `needs` names the columns `pick` reads."""
    return Load(
        batch=records_batch(model),
        key="resident_id",
        convert=lambda row: from_row(cls, row),
        pick=pick,
        rows=True,
        needs=needs,
    )
