"""Failed-login throttles shared through the database: decided from each worker's copy,
written behind, read back when a copy is a sync interval old, kept across restarts."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.oauth.throttle import FailureThrottle
from hub.storage.models import LoginFailures

KEY = ("gh_client", "192.0.2.7")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def throttle(engine: AsyncEngine, clock: Clock) -> FailureThrottle:
    return FailureThrottle(max_failures=3, window_seconds=60, clock=clock, engine=engine)


async def test_failures_counted_by_one_worker_throttle_another_after_a_sync(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    first, second = throttle(engine, clock), throttle(engine, clock)
    await second.refresh(KEY)  # the second worker has a copy already
    for _ in range(3):
        await first.refresh(KEY)
        first.failed(KEY)
    await first.flush()  # what the scheduled write does within a sync interval

    await second.refresh(KEY)
    stale = second.retry_after(KEY)  # its copy is younger than a sync interval
    clock.now += 1.0
    await second.refresh(KEY)

    assert stale == 0
    assert second.retry_after(KEY) == first.retry_after(KEY) == 59


async def test_failures_of_two_workers_add_up(engine: AsyncEngine) -> None:
    clock = Clock()
    first, second = throttle(engine, clock), throttle(engine, clock)
    first.failed(KEY)
    second.failed(KEY)
    second.failed(KEY)
    await first.flush()
    await second.flush()

    clock.now += 1.0
    await first.refresh(KEY)

    assert first.retry_after(KEY) == 59


async def test_a_success_clears_the_count_for_every_worker(engine: AsyncEngine) -> None:
    clock = Clock()
    first, second = throttle(engine, clock), throttle(engine, clock)
    for _ in range(3):
        first.failed(KEY)
    await first.flush()
    await second.refresh(KEY)
    assert second.retry_after(KEY) > 0

    first.succeeded(KEY)
    await first.flush()
    clock.now += 1.0
    await second.refresh(KEY)

    assert second.retry_after(KEY) == 0


async def test_the_counts_survive_a_restart_and_windows_long_over_are_forgotten(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    before = throttle(engine, clock)
    for _ in range(3):
        before.failed(KEY)
    await before.close()  # the app stops

    after = throttle(engine, clock)
    await after.refresh(KEY)
    refused = after.retry_after(KEY)
    clock.now += 61
    await after.refresh(KEY)
    await after.flush()  # prunes windows that are over
    async with engine.connect() as connection:
        rows = (await connection.execute(select(LoginFailures.key))).all()

    assert refused == 60
    assert after.retry_after(KEY) == 0
    assert rows == []


async def _stored_failures(engine: AsyncEngine, key: tuple[str, str]) -> int:
    stored = f"pair:{key[0]}|{key[1]}"
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(LoginFailures.failures).where(LoginFailures.key == stored)
        )
    return int(found or 0)


async def test_a_failure_counted_while_the_counts_are_being_written_is_written_too(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    first = FailureThrottle(
        max_failures=3, window_seconds=60, clock=clock, engine=engine, sync_seconds=0.01
    )
    keys = [(f"gh_client_{n}", "192.0.2.7") for n in range(100)]
    for key in keys:
        first.failed(key)  # one scheduled write for all of them, a statement per key
    while not await _stored_failures(engine, keys[0]):  # the write is under way
        await asyncio.sleep(0.001)
    first.failed(keys[0])
    first.failed(keys[0])

    written = 0
    for _ in range(200):  # within a few sync intervals
        written = await _stored_failures(engine, keys[0])
        if written == 3:
            break
        await asyncio.sleep(0.01)
    await first.close()

    assert written == 3
