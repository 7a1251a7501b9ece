"""A stolen database holds no identity register: after seeding, syncing every department and
answering lookups, the raw SQLite file (and its WAL) or every PostgreSQL table, read without the
hub, contains no ID number and no phone number in clear — and the hub still finds residents
by ID number."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.config import Settings
from hub.crypto.columns import MEMBER_PHONE
from hub.crypto.store import field_keys
from hub.demo.seed import seed_district
from hub.demo.simulators.run import start_simulators
from hub.identity import IdNumberError, normalize_id_number
from hub.storage.base import Base
from hub.storage.models import Grid, GridMember
from tests.conftest import Clients, quarantine_rows, stored_residents
from tests.reconciliation.conftest import Syncer

SEED = 5
# A mainland mobile number (11 digits) or a landline with its area code.
PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-\d{7,8})$")
LOOKUP = "query($n: String!) { resident(idNumber: $n) { id idNumber phone } }"


def identifiers_in(value: Any) -> Iterator[str]:
    """Every string inside a (raw, quarantined) payload shaped like an ID or phone number."""
    if isinstance(value, dict):
        for item in value.values():
            yield from identifiers_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from identifiers_in(item)
    elif isinstance(value, str) and (PHONE.match(value.strip()) or _is_id_number(value)):
        yield value.strip()


def _is_id_number(value: str) -> bool:
    try:
        normalize_id_number(value)
    except IdNumberError:
        return False
    return True


async def identifiers_held(engine: AsyncEngine) -> set[str]:
    """Every ID and phone number the hub holds, opened through its own keys."""
    residents = (await stored_residents(engine)).values()
    held = {r.id_number for r in residents} | {r.phone for r in residents if r.phone}
    ring = await field_keys(engine).ring()
    async with engine.connect() as connection:
        for (sealed,) in await connection.execute(select(GridMember.phone_encrypted)):
            phone = ring.open_optional(MEMBER_PHONE, sealed)
            if phone:
                held.add(phone)
        # 15-digit building codes read like legacy ID numbers; they are public, and in clear.
        codes = set(await connection.scalars(select(Grid.code)))
    for row in await quarantine_rows(engine):
        held |= set(identifiers_in(row.payload)) - codes
    return held


async def raw_sqlite(engine: AsyncEngine, database_url: str) -> list[bytes]:
    """The database file and its write-ahead log, as bytes on disk."""
    async with engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(str(make_url(database_url).database))
    files = [path, path.with_name(path.name + "-wal")]
    return [file.read_bytes() for file in files if file.exists()]


async def raw_postgres(engine: AsyncEngine) -> list[bytes]:
    """Every value of every table, as PostgreSQL hands it out: bytes as they are, the rest as
    text (JSON, arrays and timestamps included)."""
    dumps: list[bytes] = []
    async with engine.connect() as connection:
        tables = [table.name for table in Base.metadata.sorted_tables] + ["alembic_version"]
        for table in tables:
            for row in await connection.execute(text(f"SELECT * FROM {table}")):
                for value in row:
                    if value is None:
                        continue
                    dumps.append(value if isinstance(value, bytes) else str(value).encode())
    return dumps


@pytest.mark.e2e
async def test_the_raw_database_holds_no_id_or_phone_number_in_clear(
    settings: Settings,
    engine: AsyncEngine,
    clients: Clients,
    tmp_path: Path,
    is_postgres: bool,
) -> None:
    await seed_district(engine, scale="small", residents=400, seed=SEED)
    async with await start_simulators(
        tmp_path / "sources", residents=300, seed=SEED, bad_records=3
    ) as sims:
        await Syncer(settings, engine, sims)(succeed=False)
    held = await identifiers_held(engine)
    worker = await clients.graphql("everything")
    some = sorted(await stored_residents(engine))[::25]
    answers = [await worker(LOOKUP, {"n": number}) for number in some]

    dumps = await (
        raw_postgres(engine) if is_postgres else raw_sqlite(engine, settings.database_url)
    )

    assert len(held) > 1000  # ID numbers, residents' and board members' phones, raw payloads
    assert len(await quarantine_rows(engine)) > 0
    assert [answer["data"]["resident"]["idNumber"] for answer in answers] == some
    raw = b"\x00".join(dumps)
    assert "金水区".encode() in raw  # the dump is the real thing: names and grids are in clear
    assert sorted(value for value in held if value.encode() in raw) == []
