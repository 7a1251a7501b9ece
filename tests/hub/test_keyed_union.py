"""Several keyed reads in one statement answer what each read's own statement answers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo.seed import seed_district
from hub.storage import direct
from hub.storage.grids import GRIDS_BY_CODE, grids_by_code
from hub.storage.keyed_union import KeyedTable, read_together
from hub.storage.models import DEPARTMENT_RECORD_MODELS, Household, Resident, SourceRecord
from hub.storage.residents import (
    HOUSEHOLDS_BY_ID,
    TAGS_BY_RESIDENT,
    households_by_id,
    records_by_resident,
    tags_by_resident,
    tags_of_rows,
)
from hub.storage.session import RequestDatabase


def _columns(model: type[SourceRecord], form: str) -> list[str] | None:
    """None (every column), or a few of the type's own columns (by name, unordered)."""
    if form == "all":
        return None
    own = [c.key for c in model.__table__.c if c.key not in {"id", "resident_id"}]
    return list(reversed(own[::2]))


def _records_alone(model: type[SourceRecord], columns: list[str] | None) -> Any:
    async def read(connection: Any, keys: list[str]) -> Any:
        return await records_by_resident(connection, model, keys, columns=columns)

    return read


def _plain(found: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    return {key: [dict(row._mapping) for row in rows] for key, rows in found.items()}


@pytest.mark.parametrize("form", ["all", "some"])
@pytest.mark.parametrize("keys", ["shared", "per type"])
async def test_record_types_read_together_equal_each_read_alone(
    engine: AsyncEngine, form: str, keys: str
) -> None:
    await seed_district(engine, scale="small", residents=300, seed=5)
    async with engine.connect() as connection:
        everyone = list(
            (await connection.execute(select(Resident.id).order_by(Resident.id))).scalars()
        )
    ids = [*everyone[:150], "no-such-resident"]
    models = list(DEPARTMENT_RECORD_MODELS)
    wanted = [
        (
            KeyedTable(model.__table__, "resident_id", newest_first=True),
            ids if keys == "shared" else ids[i % 3 :: 2],
            _columns(model, form),
        )
        for i, model in enumerate(models)
    ]
    together, alone = await _both(
        engine,
        wanted,
        [
            _records_alone(model, columns)
            for model, (_, _, columns) in zip(models, wanted, strict=True)
        ],
    )

    assert [_plain(found) for found in together] == [_plain(found) for found in alone]
    assert sum(len(rows) for found in together for rows in found.values()) > 300
    assert all(found[ids[-1]] == [] for found in together if ids[-1] in found)


async def test_grids_households_tags_and_records_read_together_equal_each_read_alone(
    engine: AsyncEngine,
) -> None:
    await seed_district(engine, scale="small", residents=300, seed=5)
    async with engine.connect() as connection:
        residents = (await connection.execute(select(Resident).order_by(Resident.id))).all()
        households = list((await connection.execute(select(Household.id))).scalars())
    ids = [row.id for row in residents[:120]]
    codes = [*sorted({row.grid_code for row in residents[:120]}), "no-such-grid"]
    record = DEPARTMENT_RECORD_MODELS[1]
    wanted = [
        (GRIDS_BY_CODE, codes, None),
        (HOUSEHOLDS_BY_ID, households[:40], None),
        (TAGS_BY_RESIDENT, ids, {"tag"}),
        (KeyedTable(record.__table__, "resident_id", newest_first=True), ids, None),
    ]
    together, alone = await _both(
        engine,
        wanted,
        [
            lambda connection, keys: grids_by_code(connection, keys),
            lambda connection, keys: households_by_id(connection, keys),
            lambda connection, keys: tags_by_resident(connection, keys),
            _records_alone(record, None),
        ],
    )
    grids, households_found, tags, records = together

    assert {k: dict(rows[0]._mapping) for k, rows in grids.items() if rows} == {
        k: dict(row._mapping) for k, row in alone[0].items()
    }
    assert grids["no-such-grid"] == []
    assert len(alone[0]) == len(codes) - 1
    assert {k: dict(rows[0]._mapping) for k, rows in households_found.items()} == {
        k: dict(row._mapping) for k, row in alone[1].items()
    }
    assert tags_of_rows(tags) == alone[2]
    assert any(alone[2].values())
    assert _plain(records) == _plain(alone[3])


async def _both(
    engine: AsyncEngine, wanted: list[Any], each: list[Any]
) -> tuple[list[dict[Any, list[Any]]], list[Any]]:
    """`read_together(wanted)` (required to be one statement) and each read on its own,
    on a request's connection (autocommit: on PostgreSQL the direct path runs them)."""
    statements: list[str] = []
    database = RequestDatabase(engine)
    counted = _count_into(statements)
    direct.OBSERVERS.append(statements.append)
    event.listen(engine.sync_engine, "before_cursor_execute", counted)
    try:
        async with database.connect() as connection:
            together = await read_together(connection, wanted)
            assert len(statements) == 1
            alone = [
                await read(connection, keys)
                for read, (_, keys, _) in zip(each, wanted, strict=True)
            ]
    finally:
        direct.OBSERVERS.remove(statements.append)
        event.remove(engine.sync_engine, "before_cursor_execute", counted)
        await database.close()
    return together, alone


def _count_into(statements: list[str]) -> Any:
    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    return record
