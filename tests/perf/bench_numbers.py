"""Residents' ID and phone numbers for `make bench`, opened with the hub's own key ring.

The hub stores them sealed (hub/crypto: `residents.id_number_encrypted`, the blind index
`id_number_index`, `phone_encrypted`) and opens them per row as it answers. The benchmark
knows the master key it seeded with (`Seeded.field_key`, HUB_FIELD_KEY for every process),
so it can open them too:

- `sample_lookups`: the residents every system is asked for by id and by ID number;
- `fill_clear_copy`: `bench_resident_numbers(resident_id, id_number, phone)` in clear, made
  for PostGraphile (which cannot open AES-GCM values) on the benchmark's database alone
  (tests/perf/postgraphile/setup.sql creates the table; never a hub migration).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
from sqlalchemy import func, select

from hub.crypto.columns import ID_NUMBER, PHONE
from hub.crypto.master import MasterKey
from hub.crypto.ring import KeyRing
from hub.crypto.store import FieldKeys
from hub.storage.models import Resident
from hub.storage.session import create_engine
from tests.perf.bench_queries import Lookup

CLEAR_COPY = "bench_resident_numbers"


async def key_ring(url: str, field_key: str) -> KeyRing:
    """The key ring of the database at `url` (SQLAlchemy URL), under master key `field_key`."""
    engine = create_engine(url)
    try:
        return await FieldKeys(engine, MasterKey(bytes.fromhex(field_key))).reload()
    finally:
        await engine.dispose()


async def _opened(url: str, field_key: str, limit: int | None) -> list[tuple[str, str, str | None]]:
    """(id, ID number, phone) of every resident, or of `limit` spread over the district."""
    ring = await key_ring(url, field_key)
    query = select(Resident.id, Resident.id_number_encrypted, Resident.phone_encrypted)
    if limit is not None:
        query = query.order_by(func.md5(Resident.id)).limit(limit)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
    finally:
        await engine.dispose()
    return [
        (row[0], ring.open(ID_NUMBER, row[1]), ring.open_optional(PHONE, row[2])) for row in rows
    ]


def sample_lookups(url: str, field_key: str, count: int) -> list[Lookup]:
    """`count` residents spread over the district, the same ones for every system and run."""
    rows = asyncio.run(_opened(url, field_key, count))
    return [Lookup(resident_id, id_number) for resident_id, id_number, _phone in rows]


async def fill_clear_copy(url: str, dsn: str, field_key: str) -> int:
    """Every resident's ID number and phone, opened, into `bench_resident_numbers`; how many."""
    rows: Sequence[tuple[str, str, str | None]] = await _opened(url, field_key, None)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(f"TRUNCATE {CLEAR_COPY}")
            await connection.copy_records_to_table(
                CLEAR_COPY, records=rows, columns=("resident_id", "id_number", "phone")
            )
            await connection.execute(f"ANALYZE {CLEAR_COPY}")
    finally:
        await connection.close()
    return len(rows)
