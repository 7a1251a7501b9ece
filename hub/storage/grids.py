"""Grid tree queries; subtrees are ranges over the materialised path, so they use its index."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, SQLColumnExpression, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.crypto.columns import MEMBER_PHONE
from hub.crypto.ring import KeyRing
from hub.storage.direct import fetch_rows
from hub.storage.keyed_union import KeyedTable
from hub.storage.keys import among, among_param
from hub.storage.models import Grid, GridMember, Resident
from hub.vocabulary import GridLevel, GridPost, MemberKind


def path_upper_bound(path: str) -> str:
    """The first string after every path that starts with `path` (paths end in '/', '/' + 1 is '0')."""
    return path[:-1] + "0"


def in_subtree(
    column: SQLColumnExpression[str], path: str | SQLColumnExpression[str]
) -> ColumnElement[bool]:
    """`column` lies in the subtree rooted at `path` (the root included)."""
    if isinstance(path, str):
        return and_(column >= path, column < path_upper_bound(path))
    upper = func.substr(path, 1, func.length(path) - 1).concat("0")
    return and_(column >= path, column < upper)


async def get_grid(connection: AsyncConnection, *, code: str) -> Row[Any] | None:
    result = await connection.execute(select(Grid.__table__).where(Grid.code == code))
    return result.first()


async def list_grids(
    connection: AsyncConnection,
    *,
    level: GridLevel | None = None,
    parent_code: str | None = None,
    within_path: str | None = None,
) -> Sequence[Row[Any]]:
    query = select(Grid.__table__).order_by(Grid.path)
    if level is not None:
        query = query.where(Grid.level == level)
    if parent_code is not None:
        query = query.where(Grid.parent_code == parent_code)
    if within_path is not None:
        query = query.where(in_subtree(Grid.path, within_path))
    return (await connection.execute(query)).all()


# The keyed read a level may run together with others (hub/storage/keyed_union.py).
GRIDS_BY_CODE = KeyedTable(Grid.__table__, "code")


async def grids_by_code(connection: AsyncConnection, codes: Sequence[str]) -> dict[str, Row[Any]]:
    query = _grids_by_code(connection.dialect.name)
    rows = await fetch_rows(connection, query, {"codes": list(codes)})
    return {row.code: row for row in rows}


@functools.cache
def _grids_by_code(dialect: str) -> Select[Any]:
    """Built once per dialect (SQLAlchemy then compiles it once): the codes are a parameter."""
    return select(Grid.__table__).where(among_param(dialect, Grid.code, "codes"))


async def children_by_parent(
    connection: AsyncConnection, parent_codes: Sequence[str]
) -> dict[str, list[Row[Any]]]:
    query = (
        select(Grid.__table__)
        .where(among(connection, Grid.parent_code, parent_codes))
        .order_by(Grid.code)
    )
    children: dict[str, list[Row[Any]]] = {code: [] for code in parent_codes}
    for row in await connection.execute(query):
        children[row.parent_code].append(row)
    return children


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """One line of a responsibility board as readers see it: the phone opened (hub/crypto)."""

    grid_code: str
    name: str
    post: GridPost
    kind: MemberKind
    phone: str | None


async def members_by_grid(
    connection: AsyncConnection, grid_codes: Sequence[str], *, fields: KeyRing
) -> dict[str, list[MemberRecord]]:
    query = (
        select(GridMember.__table__)
        .where(among(connection, GridMember.grid_code, grid_codes))
        .order_by(GridMember.grid_code, GridMember.id)
    )
    members: dict[str, list[MemberRecord]] = {code: [] for code in grid_codes}
    for row in await connection.execute(query):
        phone = fields.open_optional(MEMBER_PHONE, row.phone_encrypted)
        members[row.grid_code].append(
            MemberRecord(row.grid_code, row.name, row.post, row.kind, phone)
        )
    return members


async def resident_counts(
    connection: AsyncConnection, paths: Sequence[str], *, within_path: str | None = None
) -> dict[str, int]:
    """Residents in each subtree, in one query (a range join on the path index)."""
    grid = Grid.__table__.alias("g")
    condition = in_subtree(Resident.grid_path, grid.c.path)
    if within_path is not None:
        condition = and_(condition, in_subtree(Resident.grid_path, within_path))
    query = (
        select(grid.c.path, func.count(Resident.id))
        .select_from(grid.join(Resident, condition))
        .where(among(connection, grid.c.path, paths))
        .group_by(grid.c.path)
    )
    counts = dict.fromkeys(paths, 0)
    for path, count in await connection.execute(query):
        counts[path] = count
    return counts
