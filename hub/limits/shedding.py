"""Load shedding: a bound on requests in flight per worker, and on the queue before it.

At most `max_in_flight` requests run at once (enough for the audit trail's group commit to
gather full batches; GraphQL itself is CPU-bound, and more at once only makes each slower);
others wait in a queue of at most `max_queued`, each at most `queue_timeout` seconds. A request that would not get a slot in time is refused at once, with 503 and
Retry-After: when the queue is full; when the queue ahead of it, at the recent pace of
service, would take longer than `queue_timeout` to drain; or when the requests that waited
lately waited more than half of it (the queue is standing, as CoDel would say). So an
overloaded worker answers the excess immediately instead of letting every request wait and
then fail; once the queue drains, requests are admitted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from hub.audit.records import Outcome
from hub.limits.refusals import Refusal, unavailable

RETRY_AFTER_SECONDS = 1
SMOOTHING = 0.1  # weight of the newest request in the running mean of slot times
# How much longer than the pace says a wait may turn out (a busy event loop answers late);
# 1: refuse at once exactly what is expected to wait past the queue's bound.
MARGIN = 1.0


@dataclass
class Admission:
    max_in_flight: int = 32
    max_queued: int = 512
    queue_timeout: float = 10.0

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._queued = 0
        self._held = 0.05  # seconds a request holds its slot, on average lately
        self._waited = 0.0  # seconds the requests that queued lately waited, on average
        self._running: dict[int, float] = {}  # when each running request got its slot
        self._tokens = itertools.count()

    @property
    def queued(self) -> int:
        return self._queued

    @property
    def expected_wait(self) -> float:
        """How long a request arriving now would wait for a slot, at the recent pace (or at
        the pace of the requests running now, if they have already run longer)."""
        now = time.perf_counter()
        running = [now - started for started in self._running.values()]
        held = max(self._held, sum(running) / len(running) if running else 0.0)
        return (self._queued + 1) * held / self.max_in_flight

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the worker's slots while the request runs; refuse when full."""
        if self._slots.locked():
            await self._wait()
        else:
            await self._slots.acquire()  # free: returns at once
            self._note_wait(0.0)
        started = time.perf_counter()
        token = next(self._tokens)
        self._running[token] = started
        try:
            yield
        finally:
            del self._running[token]
            self._slots.release()
            held = time.perf_counter() - started
            self._held += SMOOTHING * (held - self._held)

    async def _wait(self) -> None:
        if self._queued >= self.max_queued:
            raise self._full("too many requests are waiting")
        standing = self._waited > self.queue_timeout / 2
        if standing or self.expected_wait * MARGIN > self.queue_timeout:
            raise self._full("the hub is busy")
        self._queued += 1
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_timeout)
        except TimeoutError:
            self._note_wait(self.queue_timeout)
            raise self._full("the hub is busy") from None
        else:
            self._note_wait(time.perf_counter() - started)
        finally:
            self._queued -= 1

    def _note_wait(self, waited: float) -> None:
        self._waited += SMOOTHING * (waited - self._waited)

    @staticmethod
    def _full(why: str) -> Refusal:
        return unavailable(
            f"{why}; retry after {RETRY_AFTER_SECONDS} s",
            retry_after=RETRY_AFTER_SECONDS,
            outcome=Outcome.LIMITED,
        )
