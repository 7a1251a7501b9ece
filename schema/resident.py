"""Residents: the core fields, the resident 360 `Resident` entity, and paged resident lists."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import strawberry
from sqlalchemy import Row
from strawberry import federation

from hub.clock import age_on
from hub.identity import mask_id_number
from hub.storage import residents
from hub.storage.models import DEPARTMENT_MODELS
from schema.context import Info
from schema.cost import assumed
from schema.departments import DEPARTMENTS
from schema.enums import Department, Gender, ResidentTag
from schema.errors import BadUserInputError, ForbiddenError
from schema.grid import GRIDS, Grid
from schema.loads import Batch, Keyed, Load, first_rows, loaded
from schema.pagination import PageInfo, check_page_size, decode_cursor, encode_cursor
from schema.record_access import record_access

MAX_AGE = 150
BASIC = [["resident:basic"]]
PII = [["resident:pii"]]


# Residents by id within the caller's row scope: a resident outside it does not exist.
RESIDENTS = Batch(
    "residents",
    lambda c, ids, scope: residents.residents_by_id(
        c, ids, within_path=scope.within_path, fields=scope.fields
    ),
    many=False,
)
HOUSEHOLDS = Batch(
    "households",
    lambda c, ids, _: residents.households_by_id(c, ids),
    many=False,
    keyed=Keyed(residents.HOUSEHOLDS_BY_ID, shape=first_rows),
)
TAGS = Batch(
    "resident_tags",
    lambda c, ids, _: residents.tags_by_resident(c, ids),
    keyed=Keyed(residents.TAGS_BY_RESIDENT, frozenset({"tag"}), residents.tags_of_rows),
)
# Record types each caller may read, from the schema's declarations (need to know).
RECORD_ACCESS = record_access(DEPARTMENTS)
SOURCES = Batch(
    "resident_sources",
    lambda c, ids, scope: residents.sources_by_resident(
        c, ids, record_types=RECORD_ACCESS.readable(scope.scopes)
    ),
)


@strawberry.type(description="A household (户): the people registered at one address.")
class Household:
    id: strawberry.ID
    number: str
    address: str

    @classmethod
    def from_row(cls, row: Row[Any]) -> Household:
        return cls(id=strawberry.ID(row.id), number=row.number, address=row.address)


@strawberry.type(description="Which source system holds which kind of record about a resident.")
class RecordSource:
    department: Department
    source: str
    record_type: str
    records: int
    last_updated_at: datetime
    last_ingested_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> RecordSource:
        return cls(
            department=Department(row.department),
            source=row.source,
            record_type=row.record_type,
            records=row.records,
            last_updated_at=row.last_updated_at,
            last_ingested_at=row.last_ingested_at,
        )


@strawberry.type
class CoreResidentFields:
    """Fields owned by the core subgraph; values are filled once per row, not per field."""

    id: strawberry.ID
    name: str | None = federation.field(requires_scopes=BASIC)
    gender: Gender | None = federation.field(requires_scopes=BASIC)
    age: int | None = federation.field(requires_scopes=BASIC)
    masked_id_number: str | None = federation.field(
        requires_scopes=BASIC, description="ID number with birth date and sequence hidden."
    )
    id_number: str | None = federation.field(
        requires_scopes=PII, description="身份证号, 18 characters."
    )
    birth_date: date | None = federation.field(requires_scopes=PII)
    phone: str | None = federation.field(requires_scopes=PII)
    address: str | None = federation.field(requires_scopes=PII)
    grid_code: strawberry.Private[str]
    household_id: strawberry.Private[str | None]

    grid: Grid | None = loaded(
        Load(GRIDS, key="grid_code", convert=Grid.from_row),
        graphql_type=Grid | None,
        description="The building grid the resident lives in.",
        requires_scopes=BASIC,
    )
    household: Household | None = loaded(
        Load(HOUSEHOLDS, key="household_id", convert=Household.from_row),
        graphql_type=Household | None,
        requires_scopes=BASIC,
    )
    tags: list[ResidentTag] | None = loaded(
        Load(TAGS, key="id"), graphql_type=list[ResidentTag] | None, requires_scopes=BASIC
    )
    sources: list[RecordSource] | None = loaded(
        Load(SOURCES, key="id", convert=RecordSource.from_row),
        graphql_type=list[RecordSource] | None,
        description="Which department systems the resident's records came from, and when.",
        requires_scopes=BASIC,
        directives=[assumed(10)],
    )


def _compose_resident() -> type[CoreResidentFields]:
    """`Resident` = core fields + one profile field per registered department."""
    bases: tuple[type[Any], ...] = (CoreResidentFields, *(d.resident_fields for d in DEPARTMENTS))
    namespace = {"resolve_reference": classmethod(_resolve_reference)}
    cls = type("Resident", bases, namespace)
    description = "A resident, keyed by an opaque stable id: the resident 360 view."
    resident: type[CoreResidentFields] = federation.type(keys=["id"], description=description)(cls)
    return resident


async def _resolve_reference(cls: type[Any], info: Info, id: strawberry.ID) -> Any:
    row = await info.context.loaders.load(RESIDENTS, str(id))
    return resident_from_row(row, info.context.today) if row is not None else None


if TYPE_CHECKING:
    Resident = CoreResidentFields
else:
    Resident = _compose_resident()


def resident_from_row(row: residents.ResidentRecord, today: date) -> CoreResidentFields:
    return Resident(
        id=strawberry.ID(row.id),
        name=row.name,
        gender=row.gender,
        age=age_on(row.birth_date, today),
        masked_id_number=mask_id_number(row.id_number),
        id_number=row.id_number,
        birth_date=row.birth_date,
        phone=row.phone,
        address=row.address,
        grid_code=row.grid_code,
        household_id=row.household_id,
    )


@strawberry.input(
    name="ResidentFilter", description="Narrows a resident list; every given criterion must hold."
)
class ResidentFilterInput:
    name_prefix: str | None = None
    tag: ResidentTag | None = None
    min_age: int | None = None
    max_age: int | None = None
    has_records_in: list[Department] | None = None

    def to_criteria(self, scopes: frozenset[str]) -> residents.ResidentFilter:
        """The storage criteria; `hasRecordsIn` counts only record types `scopes` may read,
        and a department none of whose records they may read is refused."""
        for name, age in (("minAge", self.min_age), ("maxAge", self.max_age)):
            if age is not None and not 0 <= age <= MAX_AGE:
                raise BadUserInputError(
                    f"`filter.{name}` must be between 0 and {MAX_AGE}, got {age}", argument=name
                )
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise BadUserInputError(
                f"`filter.minAge` ({self.min_age}) is above `filter.maxAge` ({self.max_age})",
                argument="minAge",
            )
        readable = RECORD_ACCESS.readable(scopes)
        for department in self.has_records_in or ():
            tables = [m.__tablename__ for m in DEPARTMENT_MODELS[department]]
            if not readable & set(tables):
                raise ForbiddenError(
                    f"`hasRecordsIn: {department.value}` requires the scope "
                    f"{RECORD_ACCESS.needed(tables)}; request a token that carries it"
                )
        return residents.ResidentFilter(
            name_prefix=self.name_prefix,
            tag=self.tag,
            min_age=self.min_age,
            max_age=self.max_age,
            has_records_in=tuple(self.has_records_in or ()),
            record_types=readable,
        )


@strawberry.type
class ResidentEdge:
    cursor: str
    node: Resident


@strawberry.type(description="A page of residents (Relay connection).")
class ResidentConnection:
    edges: list[ResidentEdge]
    page_info: PageInfo
    criteria: strawberry.Private[residents.ResidentFilter]
    within_path: strawberry.Private[str | None]
    empty: strawberry.Private[bool] = False

    @strawberry.field(
        description=(
            "Residents matching the filter in all pages; kept for a few seconds, so it may "
            "lag behind the data by that long (HUB_COUNT_CACHE_SECONDS)."
        )
    )
    async def total_count(self, info: Info) -> int:
        if self.empty:
            return 0
        context = info.context
        async with context.database.connect() as connection:
            return await context.counts.count(
                connection,
                criteria=self.criteria,
                within_path=self.within_path,
                today=context.today,
            )


def _narrowest(scope_path: str | None, grid_path: str | None) -> tuple[bool, str | None]:
    """Intersect the caller's row scope with a requested subtree: (overlaps, path)."""
    if scope_path is None or grid_path is None:
        return True, grid_path or scope_path
    if grid_path.startswith(scope_path):
        return True, grid_path
    if scope_path.startswith(grid_path):
        return True, scope_path
    return False, None


def empty_connection(criteria: residents.ResidentFilter) -> ResidentConnection:
    page_info = PageInfo(
        has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None
    )
    return ResidentConnection(
        edges=[], page_info=page_info, criteria=criteria, within_path=None, empty=True
    )


# Cursors carry the (grid path, id) position: paths never contain this character.
_SEPARATOR = "|"


def _position(key: str) -> tuple[str, str]:
    path, separator, resident_id = key.partition(_SEPARATOR)
    if not separator or not path.endswith("/") or not resident_id:
        raise BadUserInputError(
            "`after` is not a cursor from this API; pass a `pageInfo.endCursor` you received",
            argument="after",
        )
    return path, resident_id


async def resident_page(
    info: Info,
    *,
    grid_path: str | None,
    criteria: ResidentFilterInput | None,
    first: int,
    after: str | None,
) -> ResidentConnection:
    """One page of the residents the caller may see, optionally within one grid's subtree."""
    context = info.context
    check_page_size(first, maximum=context.max_page_size)
    after_key = _position(decode_cursor(after)) if after is not None else None
    scopes = context.caller.scopes
    search = criteria.to_criteria(scopes) if criteria is not None else residents.ResidentFilter()
    overlaps, within_path = _narrowest(context.caller.grid_path, grid_path)
    if not overlaps:
        return empty_connection(search)
    async with context.database.connect() as connection:
        rows = await residents.find_residents(
            connection,
            criteria=search,
            within_path=within_path,
            limit=first + 1,
            after=after_key,
            today=context.today,
            fields=context.fields,
        )
    edges = [
        ResidentEdge(
            cursor=encode_cursor(f"{row.grid_path}{_SEPARATOR}{row.id}"),
            node=resident_from_row(row, context.today),
        )
        for row in rows[:first]
    ]
    page_info = PageInfo(
        has_next_page=len(rows) > first,
        has_previous_page=after_key is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return ResidentConnection(
        edges=edges, page_info=page_info, criteria=search, within_path=within_path
    )
