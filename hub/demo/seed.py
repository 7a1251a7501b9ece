"""`hub seed`: write the synthetic district and its population into an empty database.

Grids and responsibility boards go in first (parents before children, one transaction that
also checks the database is empty); the population then streams building by building from the
pure generator and is written with Core executemany in batches of about `batch_size` rows, one
commit per batch, so memory stays flat at any size.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlalchemy import insert, select

from hub.crypto.columns import sealed_rows
from hub.crypto.store import field_keys
from hub.demo.district import build_district
from hub.demo.population import TABLE_ORDER, generate_population
from hub.storage.models import Grid, GridMember, Resident
from hub.vocabulary import GridLevel

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from hub.crypto.ring import KeyRing
    from hub.demo.district import District
    from hub.demo.population import BuildingPopulation
    from hub.demo.records import Row
    from hub.storage.base import Base

DEFAULT_RESIDENTS: dict[str, int] = {"small": 2_000, "jinshui": 100_000}


class SeedError(RuntimeError):
    """The database cannot be seeded (it already holds a district, or the request is invalid)."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What a seed run wrote: rows per table name, and how long it took."""

    counts: dict[str, int]
    elapsed_seconds: float

    @property
    def grids(self) -> int:
        return self.counts.get(Grid.__tablename__, 0)

    @property
    def residents(self) -> int:
        return self.counts.get(Resident.__tablename__, 0)

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


async def seed_district(
    engine: AsyncEngine,
    *,
    scale: Literal["small", "jinshui"] = "small",
    residents: int | None = None,
    seed: int = 0,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> SeedSummary:
    """Seed an empty database with a district of `scale` and `residents` people."""
    started = time.perf_counter()
    total = DEFAULT_RESIDENTS[scale] if residents is None else residents
    if total < 0 or batch_size < 1:
        raise SeedError("residents must be zero or more and batch_size at least one")
    district = build_district(scale, seed=seed)
    counts: Counter[str] = Counter()
    fields = await field_keys(engine).ring()
    async with engine.begin() as connection:
        await _ensure_empty(connection)
        await _write_district(connection, district, counts, fields)
    writer = _BatchWriter(engine, counts, total, progress, fields)
    await writer.write(generate_population(district, total, seed=seed), batch_size)
    return SeedSummary(dict(counts), time.perf_counter() - started)


async def seed_grid_tree(
    engine: AsyncEngine, *, scale: Literal["small", "jinshui"] = "small", seed: int = 0
) -> SeedSummary:
    """Only the district's grid tree and responsibility boards, no population.

    For the connector demo: residents and their records then come from the department
    systems (the police register creates the residents).
    """
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    fields = await field_keys(engine).ring()
    async with engine.begin() as connection:
        await _ensure_empty(connection)
        await _write_district(connection, build_district(scale, seed=seed), counts, fields)
    return SeedSummary(dict(counts), time.perf_counter() - started)


async def _ensure_empty(connection: AsyncConnection) -> None:
    existing = await connection.scalar(select(Grid.code).limit(1))
    if existing is not None:
        raise SeedError("database already holds a district; seed an empty database")


async def _write_district(
    connection: AsyncConnection, district: District, counts: Counter[str], fields: KeyRing
) -> None:
    for level in GridLevel:  # parents first: DISTRICT, STREET, COMMUNITY, BUILDING
        rows = [grid.row() for grid in district.level(level)]
        await _insert(connection, Grid, rows, counts, fields)
    await _insert(connection, GridMember, list(district.members), counts, fields)


async def _insert(
    connection: AsyncConnection,
    model: type[Base],
    rows: list[Row],
    counts: Counter[str],
    fields: KeyRing,
) -> None:
    """The rows as stored: ID and phone numbers sealed, the whole batch at once."""
    if rows:
        table = model.__table__
        await connection.execute(insert(model), sealed_rows(table, rows, fields))  # type: ignore[arg-type]
        counts[model.__tablename__] += len(rows)


@dataclass(slots=True)
class _Batch:
    """Rows of several buildings, per table, and how many residents they hold."""

    rows: dict[type[Base], list[Row]] = field(
        default_factory=lambda: {model: [] for model in TABLE_ORDER}
    )
    size: int = 0
    residents: int = 0

    def add(self, building: BuildingPopulation) -> None:
        for model, rows in building.rows.items():
            self.rows[model].extend(rows)
            self.size += len(rows)
        self.residents += building.residents


def _batches(population: Iterable[BuildingPopulation], batch_size: int) -> Iterator[_Batch]:
    batch = _Batch()
    for building in population:
        batch.add(building)
        if batch.size >= batch_size:
            yield batch
            batch = _Batch()
    if batch.residents or batch.size:
        yield batch


class _BatchWriter:
    """Writes batches of the population, one transaction each, reporting progress after each.

    Generation and writing alternate in one thread on purpose: a generator thread competing
    for the GIL stalls SQLite's executemany (which takes the GIL back once per row) and made
    seeding slower, not faster.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        counts: Counter[str],
        total: int,
        progress: Callable[[int, int], None] | None,
        fields: KeyRing,
    ) -> None:
        self.engine = engine
        self.counts = counts
        self.total = total
        self.progress = progress
        self.fields = fields
        self.done = 0

    async def write(self, population: Iterable[BuildingPopulation], batch_size: int) -> None:
        for batch in _batches(population, batch_size):
            await self._flush(batch)

    async def _flush(self, batch: _Batch) -> None:
        async with self.engine.begin() as connection:
            for model in TABLE_ORDER:
                await _insert(connection, model, batch.rows[model], self.counts, self.fields)
        self.done += batch.residents
        if self.progress is not None:
            self.progress(self.done, self.total)
