"""The district grid: street → community → building, with each grid's responsibility board."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry import federation

from hub.storage import grids
from schema.context import Info
from schema.cost import assumed, paged
from schema.enums import GridLevel, GridPost, MemberKind
from schema.loads import Batch, Keyed, Load, first_rows, loaded

if TYPE_CHECKING:
    from schema.resident import ResidentConnection, ResidentFilterInput


GRIDS = Batch(
    "grids",
    lambda c, codes, _: grids.grids_by_code(c, codes),
    many=False,
    keyed=Keyed(grids.GRIDS_BY_CODE, shape=first_rows),
)
CHILDREN = Batch("grid_children", lambda c, codes, _: grids.children_by_parent(c, codes))
MEMBERS = Batch(
    "grid_members", lambda c, codes, scope: grids.members_by_grid(c, codes, fields=scope.fields)
)
RESIDENT_COUNTS = Batch(
    "grid_resident_counts",
    lambda c, paths, scope: grids.resident_counts(c, paths, within_path=scope.within_path),
    many=False,
)


@strawberry.type(description="One post on a grid's responsibility board (责任牌).")
class GridMember:
    name: str
    post: GridPost
    kind: MemberKind
    phone: str | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> GridMember:
        return cls(name=row.name, post=row.post, kind=row.kind, phone=row.phone)


@strawberry.type(description="A node of the district grid (网格).")
class Grid:
    code: strawberry.ID
    name: str
    level: GridLevel
    path: str = strawberry.field(description="Codes from the district root down, '/'-separated.")
    parent_code: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: Row[Any]) -> Grid:
        return cls(
            code=strawberry.ID(row.code),
            name=row.name,
            level=row.level,
            path=row.path,
            parent_code=row.parent_code,
        )

    parent: Grid | None = loaded(
        Load(GRIDS, key="parent_code", convert=lambda row: Grid.from_row(row)),
        graphql_type=Annotated["Grid", strawberry.lazy("schema.grid")] | None,
        description="The enclosing grid; null at the district root.",
    )
    children: list[Grid] = loaded(
        Load(CHILDREN, key="code", convert=lambda row: Grid.from_row(row)),
        graphql_type=list[Annotated["Grid", strawberry.lazy("schema.grid")]],
        description="The grids one level down.",
        directives=[assumed(100)],
    )
    members: list[GridMember] | None = loaded(
        Load(MEMBERS, key="code", convert=GridMember.from_row),
        graphql_type=list[GridMember] | None,
        description="The responsibility board (责任牌).",
        requires_scopes=[["grid:read"]],
        directives=[assumed(10)],
    )
    resident_count: int | None = loaded(
        Load(RESIDENT_COUNTS, key="path"),
        graphql_type=int | None,
        description="Residents living in this grid's subtree that the caller may see.",
        requires_scopes=[["resident:basic"]],
    )

    @federation.field(
        requires_scopes=[["resident:basic"]],
        description="Residents living in this grid's subtree, in a stable order.",
        directives=[paged()],
    )
    async def residents(
        self,
        info: Info,
        filter: Annotated[ResidentFilterInput, strawberry.lazy("schema.resident")] | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Annotated[ResidentConnection, strawberry.lazy("schema.resident")] | None:
        from schema.resident import resident_page

        return await resident_page(
            info, grid_path=self.path, criteria=filter, first=first, after=after
        )


async def get_grid(info: Info, code: str) -> Grid | None:
    row = await info.context.loaders.load(GRIDS, code)
    return Grid.from_row(row) if row is not None else None
