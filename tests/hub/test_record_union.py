"""Several record types read in one statement answer what each type's own statement answers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.demo.seed import seed_district
from hub.storage import direct
from hub.storage.models import DEPARTMENT_RECORD_MODELS, Resident, SourceRecord
from hub.storage.record_union import records_together
from hub.storage.residents import records_by_resident
from hub.storage.session import RequestDatabase


def _columns(model: type[SourceRecord], form: str) -> list[str] | None:
    """None (every column), or a few of the type's own columns (by name, unordered)."""
    if form == "all":
        return None
    own = [c.key for c in model.__table__.c if c.key not in {"id", "resident_id"}]
    return list(reversed(own[::2]))


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
        (model, ids if keys == "shared" else ids[i % 3 :: 2], _columns(model, form))
        for i, model in enumerate(models)
    ]
    statements: list[str] = []
    database = RequestDatabase(engine)  # autocommit: on PostgreSQL the direct path runs it
    counted = _count_into(statements)
    direct.OBSERVERS.append(statements.append)
    event.listen(engine.sync_engine, "before_cursor_execute", counted)
    try:
        async with database.connect() as connection:
            together = await records_together(connection, wanted)
            assert len(statements) == 1
            alone = [
                await records_by_resident(connection, model, model_ids, columns=columns)
                for model, model_ids, columns in wanted
            ]
    finally:
        direct.OBSERVERS.remove(statements.append)
        event.remove(engine.sync_engine, "before_cursor_execute", counted)
        await database.close()

    assert [_plain(found) for found in together] == [_plain(found) for found in alone]
    assert sum(len(rows) for found in together for rows in found.values()) > 300
    assert all(found[ids[-1]] == [] for found in together if ids[-1] in found)


def _count_into(statements: list[str]) -> Any:
    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    return record
