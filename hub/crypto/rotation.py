"""`hub keys rotate-field-key`: every sealed value re-sealed under a new data key, while the
hub serves — and the suite may change on the way (AES-256-GCM ⇄ SM4-GCM).

The steps, each one recorded in `field_keys` so that running the command again after an
interruption (a crash, Ctrl-C) picks up where it stopped:

1. A new key is added as PENDING. Every process loads it within the refresh bound
   (`HUB_FIELD_KEYS_REFRESH_SECONDS`) and from then on also looks residents up by it.
2. After the bound it becomes CURRENT and the old current PREVIOUS, in one transaction; within
   another bound every process seals new values with it. Until then a process may still seal
   with the old key, which every process still opens and searches.
3. Every sealed column is walked in primary-key batches. A value not under the current key is
   opened and sealed again (its blind index recomputed) by an UPDATE that matches the values
   it read, so a value written meanwhile is never overwritten: its row is taken again by the
   next pass. Passes repeat until one finds nothing to re-seal.
4. After one more bound and a last pass that finds nothing, the PREVIOUS keys are RETIRED:
   still able to open a straggler, no longer searched.

A write whose transaction began before step 2 and commits after step 4 would be sealed under a
retired key: it still opens, and the next rotation re-seals it. Reads never wait for any of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.crypto.columns import SEALED, SealedColumn
from hub.crypto.master import FieldKeyError
from hub.crypto.ring import DataKey, KeyRing, key_id_of
from hub.crypto.store import FieldKeys, new_key_row
from hub.crypto.suites import Suite
from hub.storage.base import utcnow
from hub.storage.models import FieldKey, FieldKeyState

Progress = Callable[[int, int], None]
KEYS: Table = FieldKey.__table__  # type: ignore[assignment]
MAX_PASSES = 20


@dataclass
class RotationReport:
    key_id: int
    suite: Suite
    resumed: bool = False
    rows: int = 0  # rows of sealed tables walked in the first pass
    resealed: int = 0  # values re-sealed, over every pass
    passes: int = 0
    retired: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id, "suite": self.suite.value, "resumed": self.resumed,
            "rows": self.rows, "resealed": self.resealed, "passes": self.passes,
            "retired": self.retired, "seconds": round(self.seconds, 3),
        }  # fmt: skip


async def rotate_field_key(
    keys: FieldKeys,
    *,
    suite: Suite | None = None,
    batch_size: int = 1000,
    settle_seconds: float | None = None,
    progress: Progress | None = None,
) -> RotationReport:
    """Rotate to a new data key (or finish an interrupted rotation); see the module docstring.

    `settle_seconds` is how long a step waits for every process to see the last one: by
    default twice the refresh bound, plus a second.
    """
    started = time.monotonic()
    settle = settle_seconds if settle_seconds is not None else 2 * keys.refresh_seconds + 1
    engine = keys.engine
    await keys.reload()  # makes the first key of an empty database, if need be
    rows = await _key_rows(engine)
    pending = next((r for r in rows if r.state is FieldKeyState.PENDING), None)
    current = next(r for r in rows if r.state is FieldKeyState.CURRENT)
    previous = [r for r in rows if r.state is FieldKeyState.PREVIOUS]
    if pending is None and not previous:
        pending = await _add_pending(keys, max(r.id for r in rows) + 1, suite or keys.suite)
        report = RotationReport(pending.id, Suite(pending.suite))
    else:
        target = pending or current
        report = RotationReport(target.id, Suite(target.suite), resumed=True)
    if pending is not None:
        await asyncio.sleep(settle)  # step 1: every process knows the pending key
        await _activate(engine, pending.id)
    await asyncio.sleep(settle)  # step 2: every process seals with it
    ring = await keys.reload()
    await _sweep_until_clean(engine, ring, report, batch_size, progress)
    await asyncio.sleep(settle)  # step 4: a last look after every slow writer has committed
    ring = await keys.reload()
    await _sweep_until_clean(engine, ring, report, batch_size, progress)
    report.retired = await _retire_previous(engine)
    await keys.reload()
    report.seconds = time.monotonic() - started
    return report


async def _key_rows(engine: AsyncEngine) -> list[FieldKey]:
    async with engine.connect() as connection:
        result = await connection.execute(select(FieldKey.__table__).order_by(FieldKey.id))
        return [FieldKey(**row._mapping) for row in result]


async def _add_pending(keys: FieldKeys, key_id: int, suite: Suite) -> FieldKey:
    row = new_key_row(keys.master, key_id, suite, current=False)
    async with keys.engine.begin() as connection:
        await connection.execute(KEYS.insert().values(**row))
    return FieldKey(**row)


async def _activate(engine: AsyncEngine, key_id: int) -> None:
    """PENDING → CURRENT and CURRENT → PREVIOUS, in one transaction."""
    table = KEYS
    async with engine.begin() as connection:
        await connection.execute(
            update(table)
            .where(table.c.state == FieldKeyState.CURRENT)
            .values(state=FieldKeyState.PREVIOUS)
        )
        await connection.execute(
            update(table)
            .where(table.c.id == key_id, table.c.state == FieldKeyState.PENDING)
            .values(state=FieldKeyState.CURRENT, activated_at=utcnow())
        )


async def _retire_previous(engine: AsyncEngine) -> list[int]:
    table = KEYS
    async with engine.begin() as connection:
        retired = await connection.scalars(
            select(table.c.id).where(table.c.state == FieldKeyState.PREVIOUS)
        )
        ids = list(retired)
        await connection.execute(
            update(table)
            .where(table.c.id.in_(ids))
            .values(state=FieldKeyState.RETIRED, retired_at=utcnow())
        )
    return ids


async def _sweep_until_clean(
    engine: AsyncEngine,
    ring: KeyRing,
    report: RotationReport,
    batch_size: int,
    progress: Progress | None,
) -> None:
    for _ in range(MAX_PASSES):
        report.passes += 1
        total = await _row_count(engine)
        report.rows = report.rows or total
        walked, resealed = 0, 0
        for table, columns in SEALED.items():
            async for scanned, changed in _sweep_table(engine, table, columns, ring, batch_size):
                walked, resealed = walked + scanned, resealed + changed
                if progress is not None:
                    progress(walked, total)
        report.resealed += resealed
        if resealed == 0:
            return
    raise FieldKeyError(
        f"rows kept changing through {MAX_PASSES} passes; run `hub keys rotate-field-key` again"
    )


async def _row_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        counts = [
            await connection.scalar(select(func.count()).select_from(table)) for table in SEALED
        ]
    return sum(int(count or 0) for count in counts)


async def _sweep_table(
    engine: AsyncEngine,
    table: Table,
    columns: Sequence[SealedColumn],
    ring: KeyRing,
    batch_size: int,
) -> Any:
    """Batches of (rows walked, values re-sealed) over one table, in primary-key order."""
    key = next(iter(table.primary_key.columns))
    sealed = [table.c[column.column] for column in columns]
    after: Any = None
    while True:
        query = select(key, *sealed).order_by(key).limit(batch_size)
        if after is not None:
            query = query.where(key > after)
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        if not rows:
            return
        after = rows[-1][0]
        changes = [
            change
            for row in rows
            if (change := _resealed(row, columns, ring.current, ring)) is not None
        ]
        if changes:
            await _write(engine, table, key.name, columns, changes)
        yield len(rows), len(changes)


def _resealed(
    row: Any, columns: Sequence[SealedColumn], current: DataKey, ring: KeyRing
) -> dict[str, Any] | None:
    """The row's new values (and the ones it must still hold), or None if all are current."""
    values = row[1:]
    if all(value is None or key_id_of(value) == current.id for value in values):
        return None
    change: dict[str, Any] = {"row_key": row[0]}
    for column, value in zip(columns, values, strict=True):
        change[f"old_{column.column}"] = value
        if value is None:
            change[f"new_{column.column}"] = None
            if column.index is not None:
                change[f"new_{column.index}"] = None
            continue
        plain = ring.open(column.name, value)
        change[f"new_{column.column}"] = current.seal(column.name, plain)
        if column.index is not None:
            change[f"new_{column.index}"] = current.index(column.name, plain)
    return change


async def _write(
    engine: AsyncEngine,
    table: Table,
    key: str,
    columns: Sequence[SealedColumn],
    changes: list[dict[str, Any]],
) -> None:
    """One UPDATE per row, all in one transaction, each matching what was read (no lost write)."""
    names = [c.column for c in columns] + [c.index for c in columns if c.index is not None]
    statement = (
        update(table)
        .where(table.c[key] == bindparam("row_key"))
        .where(
            *(table.c[c.column].is_not_distinct_from(bindparam(f"old_{c.column}")) for c in columns)
        )
        .values({name: bindparam(f"new_{name}") for name in names})
    )
    async with engine.begin() as connection:
        await connection.execute(statement, changes)
