"""The data keys of one database (`field_keys`, wrapped by the master key), as a process knows
them while it serves.

`FieldKeys.ring()` answers the `KeyRing` to use now. The ring is reloaded (one query) when
older than `HUB_FIELD_KEYS_REFRESH_SECONDS`, so a key made by another process — a rotation
run beside the hub — is known everywhere within that bound; a rotation waits out the bound
before any row depends on its new key (hub/crypto/rotation.py). The first key of an empty
database is made on first use (by whichever process gets there first).

The keys of a database travel with its engine: whoever opens an engine on settings attaches
them (`attach_field_keys`, done by `create_app` and the CLI's `run_with_engine`), and readers
and writers that hold only an engine or a session ask `field_keys(engine)` /
`session_ring(session)`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from hub.config import Settings
from hub.crypto.master import FieldKeyError, MasterKey, master_key, new_material
from hub.crypto.ring import DataKey, KeyRing
from hub.crypto.suites import Suite
from hub.storage.base import utcnow
from hub.storage.models import FieldKey, FieldKeyState
from hub.storage.upsert import insert_or_ignore

SEARCHABLE = (FieldKeyState.CURRENT, FieldKeyState.PENDING, FieldKeyState.PREVIOUS)


class FieldKeys:
    """The field keys of one database for this process, reloaded when stale."""

    def __init__(
        self,
        engine: AsyncEngine,
        master: MasterKey,
        *,
        suite: Suite = Suite.AES_256_GCM,
        refresh_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.master = master
        self.suite = suite  # of the first key, when the database has none
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._ring: KeyRing | None = None
        self._loaded_at = float("-inf")
        self._loading = asyncio.Lock()
        self._opened: dict[tuple[int, bytes], DataKey] = {}

    @classmethod
    def from_settings(cls, engine: AsyncEngine, settings: Settings) -> FieldKeys:
        """Reads the master key now: in prod a missing HUB_FIELD_KEY fails here, at start-up."""
        return cls(
            engine,
            master_key(settings),
            suite=settings.field_suite,
            refresh_seconds=settings.field_keys_refresh_seconds,
        )

    async def ring(self) -> KeyRing:
        """The keys to use now (a reload, one query, when older than the refresh bound)."""
        ring = self._ring
        if ring is None or self._clock() - self._loaded_at >= self.refresh_seconds:
            async with self._loading:  # one reload at a time; the others wait for it
                if self._ring is None or self._clock() - self._loaded_at >= self.refresh_seconds:
                    await self.reload()
            ring = self._ring
            assert ring is not None
        return ring

    async def reload(self) -> KeyRing:
        started = self._clock()
        async with self.engine.connect() as connection:
            rows = await _rows(connection)
        if not any(row.state is FieldKeyState.CURRENT for row in rows):
            if rows:
                raise FieldKeyError(
                    "field_keys holds no current key; run `hub keys rotate-field-key` to finish "
                    "the rotation that was interrupted"
                )
            rows = await self._first_key()
        self._ring = self._ring_of(rows)
        self._loaded_at = started
        return self._ring

    def open_key(self, row: FieldKey) -> DataKey:
        """A stored key, unwrapped once per process."""
        cached = self._opened.get((row.id, row.wrapped))
        if cached is None:
            suite, material = self.master.unwrap(row.id, row.wrapped)
            cached = self._opened[(row.id, row.wrapped)] = DataKey.from_material(
                row.id, suite, material
            )
        return cached

    def _ring_of(self, rows: Sequence[FieldKey]) -> KeyRing:
        return ring_of(rows, self.open_key)

    async def _first_key(self) -> list[FieldKey]:
        async with self.engine.begin() as connection:
            await insert_or_ignore(connection, FieldKey, self.new_row(1, self.suite, current=True))
        async with self.engine.connect() as connection:
            return await _rows(connection)

    def new_row(self, key_id: int, suite: Suite, *, current: bool) -> dict[str, object]:
        return new_key_row(self.master, key_id, suite, current=current)


def new_key_row(
    master: MasterKey, key_id: int, suite: Suite, *, current: bool
) -> dict[str, object]:
    """The columns of a new data key (fresh material, wrapped under the master key)."""
    now = utcnow()
    return {
        "id": key_id,
        "suite": suite.value,
        "state": FieldKeyState.CURRENT if current else FieldKeyState.PENDING,
        "wrapped": master.wrap(key_id, suite, new_material()),
        "created_at": now,
        "activated_at": now if current else None,
    }


def ring_of(rows: Sequence[Any], open_key: Callable[[Any], DataKey]) -> KeyRing:
    """The ring of `field_keys` rows (id, state, wrapped): every key opens, the current one
    seals, those rows may still be indexed with are searched."""
    keys = {row.id: open_key(row) for row in rows}
    current = next(row.id for row in rows if row.state == FieldKeyState.CURRENT)
    searchable = [row.id for row in rows if row.state in SEARCHABLE]
    return KeyRing(keys, current=current, searchable=searchable)


def opener(master: MasterKey) -> Callable[[Any], DataKey]:
    """Unwraps one `field_keys` row with `master` (no cache: for one-off passes)."""

    def open_key(row: Any) -> DataKey:
        suite, material = master.unwrap(row.id, row.wrapped)
        return DataKey.from_material(row.id, suite, material)

    return open_key


async def _rows(connection: AsyncConnection) -> list[FieldKey]:
    result = await connection.execute(select(FieldKey.__table__).order_by(FieldKey.id))
    return [FieldKey(**row._mapping) for row in result]


_ATTACHED: weakref.WeakKeyDictionary[Engine, FieldKeys] = weakref.WeakKeyDictionary()


def attach_field_keys(engine: AsyncEngine, settings: Settings) -> FieldKeys:
    """The field keys of the database behind `engine`, from `settings`' master key."""
    keys = _ATTACHED.get(engine.sync_engine)
    if keys is None:
        keys = _ATTACHED[engine.sync_engine] = FieldKeys.from_settings(engine, settings)
    return keys


def field_keys(engine: AsyncEngine) -> FieldKeys:
    keys = _ATTACHED.get(engine.sync_engine)
    if keys is None:
        raise FieldKeyError(
            "this database engine has no field keys: open it with attach_field_keys(engine, "
            "settings) (create_app and the CLI do)"
        )
    return keys


async def session_ring(session: AsyncSession) -> KeyRing:
    """The key ring of the database a session writes to."""
    bind = session.bind
    if not isinstance(bind, AsyncEngine):
        raise FieldKeyError("the session is not bound to an engine with field keys")
    return await field_keys(bind).ring()
