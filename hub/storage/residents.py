"""Resident queries: lookups, filtered pages and counts, always confined to a grid subtree.

Readers get residents as `ResidentRecord`s, the ID number and phone opened here, once per row
(hub/crypto), so every executor above reads plain values. A lookup by ID number is one
equality on the blind index (`id_number_index IN (…)`: one value per key that may index rows).
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Row,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import add_years
from hub.crypto.columns import ID_NUMBER, PHONE
from hub.crypto.ring import KeyRing
from hub.storage.direct import fetch_rows
from hub.storage.grids import in_subtree, path_upper_bound
from hub.storage.keyed_union import KeyedTable
from hub.storage.keys import among, among_param
from hub.storage.models import (
    DEPARTMENT_MODELS,
    SENSITIVE_MODELS,
    Grid,
    Household,
    Resident,
    ResidentTagRow,
    SourceRecord,
)
from hub.vocabulary import Department, Gender, ResidentTag

RESIDENTS = Resident.__table__
# What a reader gets: every column but the blind index.
READ_COLUMNS = [column for column in RESIDENTS.c if column.name != "id_number_index"]


@dataclass(frozen=True, slots=True)
class ResidentRecord:
    """A resident as readers see it: its identifiers opened."""

    id: str
    id_number: str
    name: str
    gender: Gender
    birth_date: date
    phone: str | None
    address: str | None
    household_id: str | None
    grid_code: str
    grid_path: str

    @classmethod
    def opened(cls, row: Row[Any], fields: KeyRing) -> ResidentRecord:
        return cls(
            id=row.id,
            id_number=fields.open(ID_NUMBER, row.id_number_encrypted),
            name=row.name,
            gender=row.gender,
            birth_date=row.birth_date,
            phone=fields.open_optional(PHONE, row.phone_encrypted),
            address=row.address,
            household_id=row.household_id,
            grid_code=row.grid_code,
            grid_path=row.grid_path,
        )


@dataclass(frozen=True)
class ResidentFilter:
    """Search criteria for resident lists; `None` means "any".

    `has_records_in` counts only the record types in `record_types` (None: all of them), so
    a caller can select residents only by records it may read.
    """

    name_prefix: str | None = None
    tag: ResidentTag | None = None
    min_age: int | None = None
    max_age: int | None = None
    has_records_in: Sequence[Department] = field(default_factory=tuple)
    record_types: frozenset[str] | None = None

    @property
    def selects_all(self) -> bool:
        """No condition at all (`record_types` only narrows `has_records_in`)."""
        return not (
            self.name_prefix
            or self.tag is not None
            or self.min_age is not None
            or self.max_age is not None
            or self.has_records_in
        )


def _conditions(
    criteria: ResidentFilter, *, within_path: str | None, today: date
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if within_path is not None:
        conditions.append(in_subtree(Resident.grid_path, within_path))
    if criteria.name_prefix:
        escaped = criteria.name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Resident.name.like(f"{escaped}%", escape="\\"))
    if criteria.tag is not None:
        tagged = (ResidentTagRow.resident_id == Resident.id) & (ResidentTagRow.tag == criteria.tag)
        conditions.append(exists().where(tagged))
    if criteria.min_age is not None:
        conditions.append(Resident.birth_date <= add_years(today, -criteria.min_age))
    if criteria.max_age is not None:
        conditions.append(Resident.birth_date > add_years(today, -(criteria.max_age + 1)))
    for department in criteria.has_records_in:
        models = _readable(DEPARTMENT_MODELS[department], criteria.record_types)
        found = [exists().where(m.resident_id == Resident.id) for m in models]
        conditions.append(or_(*found) if found else false())
    return conditions


def _readable(
    models: Iterable[type[SourceRecord]], record_types: frozenset[str] | None
) -> list[type[SourceRecord]]:
    return [m for m in models if record_types is None or m.__tablename__ in record_types]


def _filtered(
    query: Select[Any], criteria: ResidentFilter, *, within_path: str | None, today: date
) -> Select[Any]:
    return query.where(*_conditions(criteria, within_path=within_path, today=today))


async def find_residents(
    connection: AsyncConnection,
    *,
    criteria: ResidentFilter,
    within_path: str | None,
    limit: int,
    after: tuple[str, str] | None = None,
    today: date,
    fields: KeyRing,
) -> list[ResidentRecord]:
    """One page of residents in (grid path, id) order, after the `(grid_path, id)` given.

    Keyset pagination on the (grid_path, id) index: stable under inserts, and a page of a
    subtree is a walk of one index range whatever the subtree's size.
    """
    if criteria.selects_all:  # the common page: a statement built once per form
        parameters: dict[str, Any] = {"limit": limit}
        if within_path is not None:
            parameters["within_lower"] = within_path
            parameters["within_upper"] = path_upper_bound(within_path)
        if after is not None:
            parameters["after_path"], parameters["after_id"] = after
        query = _unfiltered_page(within_path is not None, after is not None)
        rows = await fetch_rows(connection, query, parameters)
    else:
        query = page_query(
            criteria=criteria, within_path=within_path, limit=limit, after=after, today=today
        )
        rows = list(await connection.execute(query))
    return [ResidentRecord.opened(row, fields) for row in rows]


@functools.cache
def _unfiltered_page(within: bool, after: bool) -> Select[Any]:
    """`page_query` without criteria, built once per form with the values as parameters
    (SQLAlchemy compiles it once; hub/storage/direct.py runs it on PostgreSQL)."""
    query = select(*READ_COLUMNS)
    if within:
        lower: BindParameter[str] = bindparam("within_lower", type_=Resident.grid_path.type)
        upper: BindParameter[str] = bindparam("within_upper", type_=Resident.grid_path.type)
        query = query.where(and_(Resident.grid_path >= lower, Resident.grid_path < upper))
    if after:
        path = bindparam("after_path", type_=Resident.grid_path.type)
        resident_id = bindparam("after_id", type_=Resident.id.type)
        query = query.where(tuple_(Resident.grid_path, Resident.id) > tuple_(path, resident_id))
    limit: BindParameter[int] = bindparam("limit", type_=Integer())
    return query.order_by(Resident.grid_path, Resident.id).limit(limit)


def page_query(
    *,
    criteria: ResidentFilter,
    within_path: str | None,
    limit: int,
    after: tuple[str, str] | None,
    today: date,
) -> Select[Any]:
    query = _filtered(select(*READ_COLUMNS), criteria, within_path=within_path, today=today)
    if after is not None:
        query = query.where(tuple_(Resident.grid_path, Resident.id) > tuple_(*after))
    return query.order_by(Resident.grid_path, Resident.id).limit(limit)


async def count_residents(
    connection: AsyncConnection, *, criteria: ResidentFilter, within_path: str | None, today: date
) -> int:
    query = _filtered(
        select(func.count()).select_from(RESIDENTS), criteria, within_path=within_path, today=today
    )
    return int((await connection.execute(query)).scalar_one())


async def get_resident(
    connection: AsyncConnection,
    *,
    resident_id: str | None = None,
    id_number: str | None = None,
    within_path: str | None,
    fields: KeyRing,
) -> ResidentRecord | None:
    """One resident by id or by ID number (through the blind index), within a subtree."""
    found = await lookup_resident(
        connection,
        resident_id=resident_id,
        id_number=id_number,
        within_path=within_path,
        fields=fields,
    )
    return found.resident if found is not None else None


@dataclass(frozen=True, slots=True)
class Lookup:
    """A resident found by `lookup_resident`, with its grid's row as `grids_by_code`
    returns it (None only if the grid is gone)."""

    resident: ResidentRecord
    grid: Any


async def lookup_resident(
    connection: AsyncConnection,
    *,
    resident_id: str | None = None,
    id_number: str | None = None,
    within_path: str | None,
    fields: KeyRing,
) -> Lookup | None:
    """`get_resident`, with the resident's grid read by the same statement: a lookup
    that shows the grid needs no second round trip for it."""
    parameters: dict[str, Any] = {}
    if resident_id is not None:
        parameters["resident_id"] = resident_id
    if id_number is not None:
        parameters["id_number_indexes"] = fields.indexes(ID_NUMBER, id_number)
    if within_path is not None:
        parameters["within_lower"] = within_path
        parameters["within_upper"] = path_upper_bound(within_path)
    query = _lookup(resident_id is not None, id_number is not None, within_path is not None)
    rows = await fetch_rows(connection, query, parameters)
    if not rows:
        return None
    row = rows[0]
    grid = _GridRow._make(getattr(row, label) for label in _GRID_LABELS)
    return Lookup(ResidentRecord.opened(row, fields), grid if row.grid__code is not None else None)


# The grid's columns in a lookup's row, labelled apart from the resident's own.
_GRID_LABELS = tuple(f"grid__{column.key}" for column in Grid.__table__.c)
_GridRow = collections.namedtuple("_GridRow", [column.key for column in Grid.__table__.c])  # type: ignore[misc]


@functools.cache
def _lookup(by_id: bool, by_id_number: bool, within: bool) -> Select[Any]:
    """`lookup_resident`'s statement, built once per form (SQLAlchemy then compiles it
    once): the values are parameters, the conditions in the order they always had."""
    grid = Grid.__table__
    labelled = [column.label(label) for column, label in zip(grid.c, _GRID_LABELS, strict=True)]
    query = select(*READ_COLUMNS, *labelled).outerjoin(grid, grid.c.code == Resident.grid_code)
    if by_id:
        query = query.where(Resident.id == bindparam("resident_id"))
    if by_id_number:
        indexes: BindParameter[bytes] = bindparam("id_number_indexes", expanding=True)
        query = query.where(Resident.id_number_index.in_(indexes))
    if within:
        lower: BindParameter[str] = bindparam("within_lower")
        upper: BindParameter[str] = bindparam("within_upper")
        query = query.where(and_(Resident.grid_path >= lower, Resident.grid_path < upper))
    return query


async def residents_by_id(
    connection: AsyncConnection, ids: Sequence[str], *, within_path: str | None, fields: KeyRing
) -> dict[str, ResidentRecord]:
    query = select(*READ_COLUMNS).where(among(connection, Resident.id, ids))
    if within_path is not None:
        query = query.where(in_subtree(Resident.grid_path, within_path))
    return {row.id: ResidentRecord.opened(row, fields) for row in await connection.execute(query)}


# The keyed reads a level may run together with others (hub/storage/keyed_union.py): the
# same rows as households_by_id's and tags_by_resident's statements.
HOUSEHOLDS_BY_ID = KeyedTable(Household.__table__, "id")
TAGS_BY_RESIDENT = KeyedTable(ResidentTagRow.__table__, "resident_id")


async def tags_by_resident(
    connection: AsyncConnection, ids: Sequence[str]
) -> dict[str, list[ResidentTag]]:
    query = _tags(connection.dialect.name)
    rows: dict[str, list[Row[Any]]] = {resident_id: [] for resident_id in ids}
    for row in await fetch_rows(connection, query, {"ids": list(ids)}):
        rows[row.resident_id].append(row)
    return tags_of_rows(rows)


def tags_of_rows(rows: dict[str, list[Any]]) -> dict[str, list[ResidentTag]]:
    """Each resident's tags, in value order, from its `(resident_id, tag)` rows."""
    return {
        key: sorted((row.tag for row in found), key=lambda tag: tag.value)
        for key, found in rows.items()
    }


async def households_by_id(connection: AsyncConnection, ids: Sequence[str]) -> dict[str, Row[Any]]:
    query = _households(connection.dialect.name)
    return {row.id: row for row in await fetch_rows(connection, query, {"ids": list(ids)})}


async def records_by_resident(
    connection: AsyncConnection,
    model: type[SourceRecord],
    ids: Sequence[str],
    *,
    columns: Iterable[str] | None = None,
) -> dict[str, list[Row[Any]]]:
    """Every record of one department type for a batch of residents, newest first; only
    `columns` (with `resident_id`) when given, all of them otherwise."""
    names = tuple(sorted(set(columns) - {"resident_id"})) if columns is not None else None
    query = _records(connection.dialect.name, model, names)
    records: dict[str, list[Row[Any]]] = {resident_id: [] for resident_id in ids}
    for row in await fetch_rows(connection, query, {"ids": list(ids)}):
        records[row.resident_id].append(row)
    return records


# The batch loads' statements, built once per dialect (and columns) with the keys as a
# parameter: SQLAlchemy compiles each once, hub/storage/direct.py runs it on PostgreSQL.


@functools.cache
def _tags(dialect: str) -> Select[str, ResidentTag]:
    return select(ResidentTagRow.resident_id, ResidentTagRow.tag).where(
        among_param(dialect, ResidentTagRow.resident_id, "ids")
    )


@functools.cache
def _households(dialect: str) -> Select[Any]:
    return select(Household.__table__).where(among_param(dialect, Household.id, "ids"))


@functools.lru_cache(maxsize=512)
def _records(
    dialect: str, model: type[SourceRecord], columns: tuple[str, ...] | None
) -> Select[Any]:
    table = model.__table__
    selected = (
        [table.c.resident_id, *(table.c[name] for name in columns)]
        if columns is not None
        else [table]
    )
    return (
        select(*selected)
        .where(among_param(dialect, table.c.resident_id, "ids"))
        .order_by(table.c.resident_id, table.c.source_updated_at.desc(), table.c.id)
    )


async def sources_by_resident(
    connection: AsyncConnection, ids: Sequence[str], *, record_types: frozenset[str] | None = None
) -> dict[str, list[Row[Any]]]:
    """Per resident, which source systems hold which record types, how many, and how fresh:
    only `record_types` (None: all), never the sensitive ones."""
    sources: dict[str, list[Row[Any]]] = {resident_id: [] for resident_id in ids}
    parts = [
        select(
            model.resident_id.label("resident_id"),
            literal(department.value).label("department"),
            literal(model.__tablename__).label("record_type"),
            model.source.label("source"),
            func.count().label("records"),
            func.max(model.source_updated_at).label("last_updated_at"),
            func.max(model.ingested_at).label("last_ingested_at"),
        )
        .where(among(connection, model.resident_id, ids))
        .group_by(model.resident_id, model.source)
        for department, models in DEPARTMENT_MODELS.items()
        for model in _readable(models, record_types)
        if model not in SENSITIVE_MODELS
    ]
    if not parts:
        return sources
    combined = union_all(*parts).subquery()
    query = select(combined).order_by(
        combined.c.resident_id, combined.c.department, combined.c.record_type
    )
    for row in await connection.execute(query):
        sources[row.resident_id].append(row)
    return sources
