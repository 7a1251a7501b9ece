"""Resident counts kept for a few seconds: paging through a street asks the same count per page.

A count over a street of a hundred thousand residents is an index scan of milliseconds;
a caller paging through it asks it again on every page. Counts are kept per (row scope,
filter, day) for `ttl_seconds` (HUB_COUNT_CACHE_SECONDS), so `totalCount` may lag behind
the data by at most that long; 0 turns the cache off.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.storage.residents import ResidentFilter, count_residents

CountKey = tuple[str | None, ResidentFilter, date]


class CountCache:
    def __init__(self, ttl_seconds: float, *, maxsize: int = 4096) -> None:
        self.ttl_seconds = ttl_seconds
        self.maxsize = maxsize
        self._counts: OrderedDict[CountKey, tuple[float, int]] = OrderedDict()

    async def count(
        self,
        connection: AsyncConnection,
        *,
        criteria: ResidentFilter,
        within_path: str | None,
        today: date,
    ) -> int:
        key = (within_path, criteria, today)
        now = time.monotonic()
        found = self._counts.get(key)
        if found is not None and now - found[0] < self.ttl_seconds:
            return found[1]
        counted = await count_residents(
            connection, criteria=criteria, within_path=within_path, today=today
        )
        if self.ttl_seconds > 0:
            self._counts[key] = (now, counted)
            self._counts.move_to_end(key)
            if len(self._counts) > self.maxsize:
                self._counts.popitem(last=False)
        return counted
