"""Root queries of the core subgraph: the caller, residents and grids."""

from __future__ import annotations

import strawberry
from strawberry import federation

from hub.identity import IdNumberError, normalize_id_number
from hub.storage import grids, residents
from schema.access import argument_scopes
from schema.context import Info
from schema.cost import assumed, paged
from schema.enums import GridLevel
from schema.errors import BadUserInputError
from schema.grid import GRIDS, Grid, get_grid
from schema.pagination import check_page_size
from schema.resident import (
    Resident,
    ResidentConnection,
    ResidentFilterInput,
    empty_connection,
    resident_from_row,
    resident_page,
)


@strawberry.type(description="Who is calling, as the hub sees it.")
class Me:
    client_id: str | None
    subject: str | None
    roles: list[str]
    scopes: list[str]
    grid_code: strawberry.Private[str | None]

    @strawberry.field(description="The grid that bounds the caller's resident data, if any.")
    async def grid(self, info: Info) -> Grid | None:
        return await get_grid(info, self.grid_code) if self.grid_code else None


def _id_number_argument(raw: str) -> str:
    try:
        return normalize_id_number(raw)
    except IdNumberError as error:
        raise BadUserInputError(
            f"`idNumber` is not a valid ID number: {error}",
            argument="idNumber",
            reason=error.reason.value,
        ) from error


@strawberry.type
class CoreQuery:
    @strawberry.field(description="The caller's client, roles, scopes and grid.")
    def me(self, info: Info) -> Me:
        caller = info.context.caller
        return Me(
            client_id=caller.client_id,
            subject=caller.subject,
            roles=list(caller.roles),
            scopes=sorted(caller.scopes),
            grid_code=caller.grid_code,
        )

    @federation.field(
        requires_scopes=[["resident:basic"]],
        description=(
            "One resident by opaque id or by ID number (exactly one of the two). "
            "Looking up by `idNumber` requires the scope resident:pii."
        ),
        metadata=argument_scopes(idNumber="resident:pii"),
    )
    async def resident(
        self, info: Info, id: strawberry.ID | None = None, id_number: str | None = None
    ) -> Resident | None:
        if (id is None) == (id_number is None):
            raise BadUserInputError("pass exactly one of `id` and `idNumber`")
        number = _id_number_argument(id_number) if id_number is not None else None
        context = info.context
        async with context.database.connect() as connection:
            found = await residents.lookup_resident(
                connection,
                resident_id=str(id) if id is not None else None,
                id_number=number,
                within_path=context.caller.grid_path,
                fields=context.fields,
            )
        if found is None:
            return None
        if found.grid is not None:
            context.loaders.prime(GRIDS, found.resident.grid_code, found.grid)
        return resident_from_row(found.resident, context.today)

    @federation.field(
        requires_scopes=[["resident:basic"]],
        description="Residents the caller may see, optionally within one grid's subtree.",
        directives=[paged()],
    )
    async def residents(
        self,
        info: Info,
        grid: strawberry.ID | None = None,
        filter: ResidentFilterInput | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> ResidentConnection | None:
        grid_path = None
        if grid is not None:
            found = await get_grid(info, str(grid))
            if found is None:
                check_page_size(first, maximum=info.context.max_page_size)
                return empty_connection(residents.ResidentFilter())
            grid_path = found.path
        return await resident_page(
            info, grid_path=grid_path, criteria=filter, first=first, after=after
        )

    @federation.field(
        requires_scopes=[["grid:read"]], description="A grid by code; null if unknown."
    )
    async def grid(self, info: Info, code: strawberry.ID) -> Grid | None:
        return await get_grid(info, str(code))

    @federation.field(
        requires_scopes=[["grid:read"]],
        description="Grids by level and/or parent.",
        directives=[assumed(100)],
    )
    async def grids(
        self, info: Info, level: GridLevel | None = None, parent: strawberry.ID | None = None
    ) -> list[Grid] | None:
        async with info.context.database.connect() as connection:
            rows = await grids.list_grids(
                connection, level=level, parent_code=str(parent) if parent is not None else None
            )
        return [Grid.from_row(row) for row in rows]
