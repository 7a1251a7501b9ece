"""Load shedding: a bound on requests in flight per worker, and on the queue before it.

At most `max_in_flight` requests run at once; up to `max_queued` more wait for a slot, each
at most `queue_timeout` seconds. A request beyond the queue, or one that waited too long, is
refused at once with 503 and Retry-After: a fast refusal the client can retry elsewhere,
instead of a slow answer for everybody (the CPU, not concurrency, is what GraphQL runs out of).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hub.audit.records import Outcome
from hub.limits.refusals import Refusal, unavailable

RETRY_AFTER_SECONDS = 1


@dataclass
class Admission:
    max_in_flight: int = 16
    max_queued: int = 64
    queue_timeout: float = 5.0

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._queued = 0

    @property
    def queued(self) -> int:
        return self._queued

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the worker's slots while the request runs; refuse when full."""
        if self._slots.locked():
            await self._wait()
        else:
            await self._slots.acquire()  # free: returns at once
        try:
            yield
        finally:
            self._slots.release()

    async def _wait(self) -> None:
        if self._queued >= self.max_queued:
            raise self._full("too many requests in flight")
        self._queued += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_timeout)
        except TimeoutError:
            raise self._full("the hub is busy") from None
        finally:
            self._queued -= 1

    @staticmethod
    def _full(why: str) -> Refusal:
        return unavailable(
            f"{why}; retry after {RETRY_AFTER_SECONDS} s",
            retry_after=RETRY_AFTER_SECONDS,
            outcome=Outcome.LIMITED,
        )
