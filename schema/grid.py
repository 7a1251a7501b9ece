"""The district grid: street → community → building, with each grid's responsibility board."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Row
from strawberry import federation

from schema.department import Info
from schema.enums import GridLevel, GridPost, MemberKind

if TYPE_CHECKING:
    from schema.resident import ResidentConnection, ResidentFilterInput


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

    @strawberry.field(description="The enclosing grid; null at the district root.")
    async def parent(self, info: Info) -> Grid | None:
        if self.parent_code is None:
            return None
        row = await info.context.loaders.grid.load(self.parent_code)
        return Grid.from_row(row) if row is not None else None

    @strawberry.field(description="The grids one level down.")
    async def children(self, info: Info) -> list[Grid]:
        return [Grid.from_row(row) for row in await info.context.loaders.children.load(self.code)]

    @federation.field(
        requires_scopes=[["grid:read"]], description="The responsibility board (责任牌)."
    )
    async def members(self, info: Info) -> list[GridMember] | None:
        rows = await info.context.loaders.members.load(self.code)
        return [GridMember.from_row(row) for row in rows]

    @federation.field(
        requires_scopes=[["resident:basic"]],
        description="Residents living in this grid's subtree that the caller may see.",
    )
    async def resident_count(self, info: Info) -> int | None:
        count: int = await info.context.loaders.resident_count.load(self.path)
        return count

    @federation.field(
        requires_scopes=[["resident:basic"]],
        description="Residents living in this grid's subtree, in a stable order.",
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
    row = await info.context.loaders.grid.load(code)
    return Grid.from_row(row) if row is not None else None
