"""Request-scoped DataLoaders: each loads one level of the graph for every parent in one query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.dataloader import DataLoader

from hub.storage import grids, residents
from hub.storage.models import SourceRecord

if TYPE_CHECKING:
    from schema.context import Context

Fetch = Callable[[AsyncConnection, Sequence[Any]], Awaitable[dict[Any, Any]]]


class Loaders:
    """Lazily created loaders; one instance per request so nothing leaks between callers."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._loaders: dict[object, DataLoader[Any, Any]] = {}
        within = context.caller.grid_path
        self.resident = self._loader(
            "resident", lambda c, ids: residents.residents_by_id(c, ids, within_path=within), None
        )
        self.tags = self._loader("tags", residents.tags_by_resident, [])
        self.household = self._loader("household", residents.households_by_id, None)
        self.sources = self._loader("sources", residents.sources_by_resident, [])
        self.grid = self._loader("grid", grids.grids_by_code, None)
        self.children = self._loader("children", grids.children_by_parent, [])
        self.members = self._loader("members", grids.members_by_grid, [])
        self.resident_count = self._loader(
            "resident_count",
            lambda c, paths: grids.resident_counts(c, paths, within_path=within),
            0,
        )

    def _loader(self, key: object, fetch: Fetch, missing: object) -> DataLoader[Any, Any]:
        database = self._context.database

        async def load(keys: list[Any]) -> list[Any]:
            async with database.connect() as connection:
                found = await fetch(connection, keys)
            return [found.get(key, missing) for key in keys]

        loader: DataLoader[Any, Any] = DataLoader(load_fn=load)
        self._loaders[key] = loader
        return loader

    def records(self, model: type[SourceRecord]) -> DataLoader[str, list[Row[Any]]]:
        """Every record of one department type, per resident."""
        loader = self._loaders.get(model)
        if loader is None:

            async def fetch(
                connection: AsyncConnection, ids: Sequence[str]
            ) -> dict[str, list[Row[Any]]]:
                return await residents.records_by_resident(connection, model, ids)

            loader = self._loader(model, fetch, [])
        return loader
