"""Failed client authentications counted per key, so guessing secrets soon meets 429 (RFC 6585).

The token and revocation endpoints count failures three ways (routes.py): per (claimed client
id, address), per address and per client id. Past `max_failures` in a window, which begins at
the first failure and lasts `window_seconds`, they answer 429 with Retry-After until it ends;
a success clears the key's count.

Given an engine, the counts are shared by every worker and replica through the
`login_failures` table, the way rate budgets are (hub/limits/budgets.py): each process decides
from its own copy and writes behind. `refresh(key)` brings a key's copy up to date when it
is `sync_seconds` old (one statement: the failures this process counted since are added,
the window's total comes back); failures and successes not yet written go out within
`sync_seconds` (a flush scheduled when the first one is counted) and when the app stops.
So a worker's decision misses at most the failures the others counted in the last two
sync intervals (2 s by default), and the counts survive a restart. Without an engine
(tests, tools) the counts live in this process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.storage.models import LoginFailures

SYNC_SECONDS = 1.0

logger = logging.getLogger(__name__)


@dataclass
class _Window:
    """This process's copy of one key's failures."""

    failures: int  # in the window, everybody's as last read plus ours since
    since: float  # when the window began
    pending: int = 0  # counted here, not yet written
    cleared: bool = False  # a success here, not yet written
    synced_at: float = -math.inf


class FailureThrottle:
    """Counts failed client authentications per key (see the module docstring)."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
        engine: AsyncEngine | None = None,
        name: str = "pair",
        sync_seconds: float = SYNC_SECONDS,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.engine = engine
        self.name = name
        self.sync_seconds = sync_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()
        self._flusher: asyncio.Task[None] | None = None
        self._pruned_at = -math.inf

    def retry_after(self, key: tuple[str, str]) -> int:
        """Seconds until the next attempt is allowed; 0 when it is allowed now."""
        window = self._current(key)
        if window is None or window.failures < self.max_failures:
            return 0
        return max(1, math.ceil(window.since + self.window_seconds - self._clock()))

    def failed(self, key: tuple[str, str]) -> None:
        window = self._current(key)
        if window is None:
            known = self._windows.get(key)
            window = _Window(0, self._clock(), synced_at=known.synced_at if known else -math.inf)
            self._windows[key] = window
        window.failures += 1
        window.pending += 1
        self._windows.move_to_end(key)
        while len(self._windows) > self._max_entries:
            self._windows.popitem(last=False)
        self._write_soon()

    def succeeded(self, key: tuple[str, str]) -> None:
        window = self._windows.get(key)
        if window is None or (window.failures == 0 and not window.pending):
            return
        if self.engine is None:
            del self._windows[key]
            return
        window.failures, window.pending, window.cleared = 0, 0, True
        self._write_soon()

    async def refresh(self, key: tuple[str, str]) -> None:
        """Bring `key`'s copy up to date if it is `sync_seconds` old. A database that cannot
        be reached leaves the copy as it is (the endpoint's own work reports the outage)."""
        if self.engine is None:
            return
        now = self._clock()
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(0, now)
            while len(self._windows) > self._max_entries:
                self._windows.popitem(last=False)
        if now - window.synced_at < self.sync_seconds:
            return
        try:
            await self._sync(key, window)
        except Exception as error:  # the local copy still decides
            logger.warning("login throttle %s not synced: %r", self.name, error)

    async def flush(self) -> None:
        """Write every count not yet written (and forget windows long over)."""
        if self.engine is None:
            return
        for key, window in list(self._windows.items()):
            if window.pending or window.cleared:
                await self._sync(key, window)
        now = self._clock()
        if now - self._pruned_at >= self.window_seconds:
            self._pruned_at = now
            column = LoginFailures.__table__.c
            prefix = self.name + ":"
            async with self.engine.begin() as connection:
                await connection.execute(
                    delete(LoginFailures).where(
                        and_(
                            column.key >= prefix,
                            column.key < self.name + ";",
                            column.since <= now - self.window_seconds,
                        )
                    )
                )

    async def close(self) -> None:
        """Write what is not yet written (best effort: the database may be gone)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        with contextlib.suppress(Exception):
            await self.flush()

    def _current(self, key: tuple[str, str]) -> _Window | None:
        window = self._windows.get(key)
        if window is None or window.since <= self._clock() - self.window_seconds:
            return None
        return window

    def _write_soon(self) -> None:
        if self.engine is None or (self._flusher is not None and not self._flusher.done()):
            return
        with contextlib.suppress(RuntimeError):  # no running loop: written at the next refresh
            self._flusher = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        """Flush a sync interval after the first unwritten count, and again while counts
        arrived during a flush (they did not schedule one: this one was under way)."""
        while True:
            await asyncio.sleep(self.sync_seconds)
            try:
                await self.flush()
            except Exception as error:  # written at the next refresh or flush
                logger.warning("login throttle %s not written: %r", self.name, error)
                return
            if not any(window.pending or window.cleared for window in self._windows.values()):
                return

    async def _sync(self, key: tuple[str, str], window: _Window) -> None:
        """Write this process's failures (or success) for `key`, read everybody's back."""
        assert self.engine is not None
        now = self._clock()
        pending, cleared = window.pending, window.cleared
        window.pending, window.cleared, window.synced_at = 0, False, now
        stored = f"{self.name}:{key[0]}|{key[1]}"[:160]
        try:
            async with self.engine.begin() as connection:
                row = await self._exchange(connection, stored, pending, cleared, window, now)
        except BaseException:
            window.pending += pending  # not written: the next sync tries again
            window.cleared = window.cleared or cleared
            raise
        # Failures counted during the round trip stay pending, and count.
        if row is not None and row[1] > now - self.window_seconds:
            window.failures, window.since = int(row[0]) + window.pending, float(row[1])
        else:
            window.failures = window.pending
            if not window.pending:
                window.since = now

    async def _exchange(
        self,
        connection: AsyncConnection,
        stored: str,
        pending: int,
        cleared: bool,
        window: _Window,
        now: float,
    ) -> tuple[int, float] | None:
        table = LoginFailures.__table__
        column = table.c
        if cleared:
            await connection.execute(delete(LoginFailures).where(column.key == stored))
        if not pending:
            query = select(column.failures, column.since).where(column.key == stored)
            found = (await connection.execute(query)).first()
            return None if found is None else (int(found[0]), float(found[1]))
        over = column.since <= now - self.window_seconds
        postgres = self.engine is not None and self.engine.dialect.name == "postgresql"
        dialect = postgresql if postgres else sqlite
        insert = dialect.insert(table).values(key=stored, failures=pending, since=window.since)
        statement = insert.on_conflict_do_update(
            index_elements=[column.key],
            set_={
                "failures": case((over, insert.excluded.failures), else_=column.failures + pending),
                "since": case((over, insert.excluded.since), else_=column.since),
            },
        ).returning(column.failures, column.since)
        found = (await connection.execute(statement)).one()
        return int(found[0]), float(found[1])
