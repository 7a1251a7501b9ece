"""hub/storage/direct.py: the lookup's statements run straight on asyncpg give exactly the rows
SQLAlchemy gives (values and their types), and fall back to SQLAlchemy wherever they cannot."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import false, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.crypto.columns import ID_NUMBER
from hub.crypto.store import field_keys
from hub.storage import direct
from hub.storage.grids import _grids_by_code, grids_by_code
from hub.storage.models import DEPARTMENT_MODELS, Grid, Resident
from hub.storage.residents import (
    _GRID_LABELS,
    READ_COLUMNS,
    _lookup,
    _records,
    get_resident,
    lookup_resident,
)
from hub.storage.session import RequestDatabase
from tests.conftest import World
from tests.schema.test_queries import add_full_records


def _typed(rows: Any) -> list[list[tuple[Any, type]]]:
    return [[(value, type(value)) for value in row] for row in rows]


def _with_grid() -> Any:
    """A lookup's columns, built apart from `_lookup`: the resident's, then its grid's."""
    grid = Grid.__table__
    labelled = [column.label(label) for column, label in zip(grid.c, _GRID_LABELS, strict=True)]
    return select(*READ_COLUMNS, *labelled).join(grid, grid.c.code == Resident.grid_code)


async def test_direct_rows_equal_sqlalchemy_rows(
    engine: AsyncEngine, world: World, is_postgres: bool
) -> None:
    grids = await world.tree()
    street = grids["410105001"]
    people = [await world.resident(grids["410105001001001"]) for _ in range(3)]
    ring = await field_keys(engine).ring()
    database = RequestDatabase(engine)
    cases: list[tuple[Any, dict[str, Any], Any]] = [
        (_grids_by_code(engine.dialect.name), {"codes": list(grids)}, select(Grid.__table__)),
        (
            _lookup(True, False, True),
            {
                "resident_id": people[0].id,
                "within_lower": street.path,
                "within_upper": "4101050010",
            },
            _with_grid().where(Resident.id == people[0].id),
        ),
        (
            _lookup(False, True, False),
            {"id_number_indexes": ring.indexes(ID_NUMBER, people[1].id_number)},
            _with_grid().where(Resident.id == people[1].id),
        ),
        (
            _lookup(False, True, False),
            {"id_number_indexes": []},
            _with_grid().where(false()),
        ),
    ]
    try:
        async with database.connect() as connection:
            assert direct._direct(connection) is is_postgres
            for statement, parameters, expected in cases:
                rows = await direct.fetch_rows(connection, statement, parameters)
                wanted = list(await connection.execute(expected))
                assert sorted(_typed(rows)) == sorted(_typed(wanted))
                for row, other in zip(sorted(rows), sorted(wanted), strict=True):
                    assert row._mapping == dict(other._mapping)
            found = await grids_by_code(connection, ["410105001", "nope"])
            assert set(found) == {"410105001"}
            assert found["410105001"].path == street.path
            resident = await get_resident(
                connection, id_number=people[2].id_number, within_path=street.path, fields=ring
            )
            assert resident is not None
            assert resident.id == people[2].id
            assert resident.gender is people[2].gender
    finally:
        await database.close()


async def test_a_lookups_grid_is_the_row_the_grid_batch_returns(
    engine: AsyncEngine, world: World
) -> None:
    """A lookup primes the request's grid batch with the grid it read (schema/query.py):
    that row must be the batch's own, field for field and type for type."""
    grids = await world.tree()
    person = await world.resident(grids["410105001001001"])
    ring = await field_keys(engine).ring()
    database = RequestDatabase(engine)
    try:
        async with database.connect() as connection:
            found = await lookup_resident(
                connection, resident_id=person.id, within_path=None, fields=ring
            )
            batch = await grids_by_code(connection, [person.grid_code])
    finally:
        await database.close()
    assert found is not None
    assert found.resident.id == person.id
    grid = batch[person.grid_code]
    assert found.grid._fields == grid._fields
    assert _typed([found.grid]) == _typed([grid])


async def test_a_failed_direct_run_is_answered_by_sqlalchemy(
    engine: AsyncEngine, world: World, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres:
        pytest.skip("the direct path runs on PostgreSQL only")
    await world.tree()
    database = RequestDatabase(engine)

    def broken(*_: Any) -> Any:
        raise RuntimeError("compiled wrong")

    monkeypatch.setattr(direct._Compiled, "arguments", broken)
    try:
        async with database.connect() as connection:
            found = await grids_by_code(connection, ["410105", "410105001"])
            assert set(found) == {"410105", "410105001"}
    finally:
        await database.close()


async def test_a_statement_that_cannot_compile_directly_is_tried_once(
    engine: AsyncEngine,
    world: World,
    is_postgres: bool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if not is_postgres:
        pytest.skip("the direct path runs on PostgreSQL only")
    await world.tree()
    attempts: list[object] = []

    def uncompilable(self: object, statement: object, *_: Any) -> None:
        attempts.append(statement)
        raise TypeError("no result processor")

    monkeypatch.setattr(direct, "_INDIRECT", {})
    monkeypatch.setattr(direct, "_COMPILED", {})
    monkeypatch.setattr(direct._Compiled, "__init__", uncompilable)
    database = RequestDatabase(engine)
    try:
        async with database.connect() as connection:
            for _ in range(3):
                found = await grids_by_code(connection, ["410105", "410105001"])
                assert set(found) == {"410105", "410105001"}
    finally:
        await database.close()
    assert len(attempts) == 1
    said = [r for r in caplog.records if "cannot compile it directly" in r.getMessage()]
    assert len(said) == 1


async def test_an_invalidated_connection_is_reconnected_before_a_direct_run(
    engine: AsyncEngine, world: World, is_postgres: bool
) -> None:
    """The asyncpg connection is read straight off a live pooled connection; one SQLAlchemy
    has invalidated (a dropped connection) is fetched through SQLAlchemy, which reconnects."""
    if not is_postgres:
        pytest.skip("the direct path runs on PostgreSQL only")
    await world.tree()
    observed: list[str] = []
    database = RequestDatabase(engine)
    direct.OBSERVERS.append(observed.append)
    try:
        async with database.connect() as connection:
            first = await direct._driver(connection)
            await connection.invalidate()
            assert connection.sync_connection is not None
            assert connection.sync_connection.invalidated
            found = await grids_by_code(connection, ["410105", "410105001"])
            assert set(found) == {"410105", "410105001"}
            assert await direct._driver(connection) is not first
    finally:
        direct.OBSERVERS.remove(observed.append)
        await database.close()
    assert len(observed) == 1  # it ran directly, on the new connection


async def test_inside_a_transaction_sqlalchemy_runs_it(engine: AsyncEngine, world: World) -> None:
    await world.tree()
    async with engine.connect() as connection:
        assert not direct._direct(connection)
        found = await grids_by_code(connection, ["410105"])
        assert list(found) == ["410105"]


async def test_every_record_table_runs_directly_with_sqlalchemys_values(
    engine: AsyncEngine, world: World, is_postgres: bool
) -> None:
    """The page's record batches (every department table, all columns): run straight on
    asyncpg without falling back — a numeric column's processor depends on the type the
    server reports, which the direct path takes from the declared type — and with the values
    and Python types SQLAlchemy gives (`Decimal` for an amount)."""
    if not is_postgres:
        pytest.skip("the direct path runs on PostgreSQL only")
    grids = await world.tree()
    people = [await world.resident(grids["410105001001001"]) for _ in range(2)]
    for person in people:
        await add_full_records(world, person)
    observed: list[str] = []
    filled: set[str] = set()
    database = RequestDatabase(engine)
    direct.OBSERVERS.append(observed.append)
    try:
        async with database.connect() as connection:
            for models in DEPARTMENT_MODELS.values():
                for model in models:
                    statement = _records(engine.dialect.name, model, None)
                    parameters = {"ids": [person.id for person in people]}
                    before = len(observed)
                    rows = await direct.fetch_rows(connection, statement, parameters)
                    assert len(observed) == before + 1, f"{model.__tablename__} fell back"
                    wanted = list(await connection.execute(statement, parameters))
                    assert _typed(rows) == _typed(wanted), model.__tablename__
                    if rows:
                        filled.add(model.__tablename__)
    finally:
        direct.OBSERVERS.remove(observed.append)
        await database.close()
    assert "social_assistance_grants" in filled  # its amount is NUMERIC
    assert len(filled) >= 8, filled
