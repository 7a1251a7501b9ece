"""Rate limits as token buckets, shared by every worker and replica through the database.

A bucket holds up to `capacity` units (query cost for a client, requests for an address)
and refills at `capacity / window` units per second. A request spends its cost when the
bucket holds at least that much; otherwise it is refused and told when to come back
(429, Retry-After, and the IETF RateLimit-Policy / RateLimit header fields,
draft-ietf-httpapi-ratelimit-headers-10: `"cost";q=…;w=…` and `"cost";r=…;t=…`).

Each process decides from its own copy of a bucket and writes behind: at most every
`sync_seconds` per bucket (and when the app stops) one statement (INSERT … ON CONFLICT DO
UPDATE … RETURNING, on SQLite and PostgreSQL alike) subtracts what this process spent since
and reads back what the bucket holds now, which other workers' spending has reduced. So a
request costs no database round trip in the common case, the state survives restarts, and
several workers together may overspend a bucket by at most what they spend within one sync
interval. With SQLite there is one process, and the database copy is only the restart state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Float, Insert, bindparam, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.models import RateBucket

SYNC_SECONDS = 1.0


@dataclass(frozen=True)
class Rate:
    """`capacity` units per `window` seconds, named `policy` in the RateLimit headers."""

    capacity: int
    window: int = 60
    policy: str = "cost"

    @property
    def per_second(self) -> float:
        return max(self.capacity, 1) / self.window


@dataclass(frozen=True)
class Decision:
    allowed: bool
    cost: float
    remaining: float  # units left after this request (before it, when refused)
    rate: Rate

    @property
    def retry_after(self) -> int:
        """Whole seconds until `cost` units are there again (0 when allowed)."""
        if self.allowed:
            return 0
        needed = min(self.cost, float(self.rate.capacity)) - self.remaining
        return max(1, math.ceil(needed / self.rate.per_second))

    @property
    def reset(self) -> int:
        """Whole seconds until the bucket is full again."""
        missing = self.rate.capacity - max(self.remaining, 0.0)
        return max(0, math.ceil(missing / self.rate.per_second))

    def headers(self) -> dict[str, str]:
        name = self.rate.policy
        headers = {
            "RateLimit-Policy": f'"{name}";q={self.rate.capacity};w={self.rate.window}',
            "RateLimit": f'"{name}";r={max(0, math.floor(self.remaining))};t={self.reset}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


@dataclass
class _Local:
    """This process's view of one bucket."""

    tokens: float
    at: float  # when `tokens` was true
    synced_at: float
    spent: float = 0.0  # spent here since the last sync

    def refill(self, now: float, rate: Rate) -> None:
        self.tokens = min(
            float(rate.capacity), self.tokens + max(0.0, now - self.at) * rate.per_second
        )
        self.at = now


class Buckets:
    """Token buckets in the `rate_buckets` table, decided in memory (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], float] = time.time,
        sync_seconds: float = SYNC_SECONDS,
    ) -> None:
        self.engine = engine
        self.sync_seconds = sync_seconds
        self._clock = clock
        self._local: dict[str, tuple[_Local, Rate]] = {}
        self._statement = _sync_statement(engine.dialect.name)

    async def spend(self, key: str, cost: float, rate: Rate) -> Decision:
        """Spend `cost` units of `key`'s bucket, or refuse without spending anything."""
        now = self._clock()
        known = self._local.get(key)
        if known is None:  # first use here: a full bucket until the database says otherwise
            bucket = _Local(tokens=float(rate.capacity), at=now, synced_at=now - self.sync_seconds)
            self._local[key] = (bucket, rate)
        else:
            bucket = known[0]
            self._local[key] = (bucket, rate)
        if now - bucket.synced_at >= self.sync_seconds:
            await self._sync(key, rate, bucket, now)
        bucket.refill(self._clock(), rate)
        if bucket.tokens < cost:
            return Decision(False, cost, bucket.tokens, rate)
        bucket.tokens -= cost
        bucket.spent += cost
        return Decision(True, cost, bucket.tokens, rate)

    async def flush(self) -> None:
        """Write every bucket's unsynced spending (when the app stops)."""
        for key, (bucket, rate) in list(self._local.items()):
            if bucket.spent:
                await self._sync(key, rate, bucket, self._clock())

    async def _sync(self, key: str, rate: Rate, bucket: _Local, now: float) -> None:
        """Hand this process's spending to the database and take the bucket's state back."""
        spent, bucket.spent, bucket.synced_at = bucket.spent, 0.0, now
        values = {
            "key": key,
            "spent": spent,
            "now": now,
            "full": float(rate.capacity),
            "per_second": rate.per_second,
        }
        try:
            async with self.engine.begin() as connection:
                tokens = float((await connection.execute(self._statement, values)).scalar_one())
        except BaseException:
            bucket.spent += spent  # not written: the next sync tries again
            raise
        # Spending by requests that ran during the round trip stays unsynced, and counts.
        bucket.tokens, bucket.at = tokens - bucket.spent, now


def _sync_statement(dialect_name: str) -> Insert:
    """The one statement of a sync, built once (building it per sync was half of the
    limits' CPU in `make bench`): subtract what this process spent since, then refill,
    then cap, and read back what the bucket holds now.

    The spending happened early in the interval since the last sync (a sync follows the
    first request after `sync_seconds`).
    """
    table = RateBucket.__table__
    column = table.c
    now, spent = bindparam("now", type_=Float), bindparam("spent", type_=Float)
    full, per_second = bindparam("full", type_=Float), bindparam("per_second", type_=Float)
    elapsed = now - column.refilled_at
    grown = column.tokens - spent + case((elapsed > 0, elapsed), else_=0.0) * per_second
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement: Insert = (
        dialect.insert(table)
        .values(key=bindparam("key"), tokens=full - spent, refilled_at=now)
        .on_conflict_do_update(
            index_elements=[column.key],
            set_={"tokens": case((grown > full, full), else_=grown), "refilled_at": now},
        )
        .returning(column.tokens)
    )
    return statement
