"""Resident counts are kept for a few seconds per row scope and filter, then counted again."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.clock import local_today
from hub.storage.counts import CountCache
from hub.storage.residents import ResidentFilter
from tests.conftest import World


async def test_a_count_is_kept_for_its_ttl_per_scope_and_filter_then_counted_again(
    world: World, engine: AsyncEngine
) -> None:
    grids = await world.tree()
    street = grids["410105001"].path
    await world.resident(grids["410105001001001"])
    await world.resident(grids["410105002001001"])
    counts = CountCache(0.3)
    today = local_today()

    async with engine.connect() as connection:
        everyone = await counts.count(
            connection, criteria=ResidentFilter(), within_path=None, today=today
        )
        in_street = await counts.count(
            connection, criteria=ResidentFilter(), within_path=street, today=today
        )
        await world.resident(grids["410105001001002"])
        kept = await counts.count(
            connection, criteria=ResidentFilter(), within_path=street, today=today
        )
        await asyncio.sleep(0.45)
        recounted = await counts.count(
            connection, criteria=ResidentFilter(), within_path=street, today=today
        )

    assert (everyone, in_street, kept, recounted) == (2, 1, 1, 2)


async def test_a_zero_ttl_counts_every_time(world: World, engine: AsyncEngine) -> None:
    grids = await world.tree()
    counts = CountCache(0)
    async with engine.connect() as connection:
        before = await counts.count(
            connection, criteria=ResidentFilter(), within_path=None, today=local_today()
        )
        await world.resident(grids["410105001001001"])
        after = await counts.count(
            connection, criteria=ResidentFilter(), within_path=None, today=local_today()
        )
    assert (before, after) == (0, 1)
