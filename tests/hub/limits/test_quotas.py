"""Harvest quotas: distinct residents a day, counted once, kept in the database, reset daily."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.limits.quotas import HarvestQuota, QuotaStore

MONDAY, TUESDAY = date(2026, 12, 7), date(2026, 12, 8)


def test_a_quota_counts_each_resident_once_and_refuses_new_ones_past_the_limit() -> None:
    quota = HarvestQuota(limit=2)

    assert [quota.allows(r) for r in ("a", "b", "a", "c", "b")] == [True, True, True, False, True]
    assert quota.added == ["a", "b"]
    assert quota.refused == 1


def test_without_a_quota_everything_is_allowed_and_nothing_counted() -> None:
    quota = HarvestQuota()

    assert all(quota.allows(str(n)) for n in range(1000))
    assert quota.added == []


async def test_the_count_is_kept_across_requests_and_restarts_and_resets_the_next_day(
    engine: AsyncEngine,
) -> None:
    store = QuotaStore(engine)
    first = await store.load("client-a", day=MONDAY, limit=2)
    assert first.allows("r1")
    assert first.allows("r2")
    assert not await store.save("client-a", day=MONDAY, quota=first)

    later = await QuotaStore(engine).load("client-a", day=MONDAY, limit=2)  # a new process
    refused = not later.allows("r3")
    alerted = await store.save("client-a", day=MONDAY, quota=later)
    again = await store.load("client-a", day=MONDAY, limit=2)
    second_alert = not again.allows("r4") and await store.save("client-a", day=MONDAY, quota=again)
    next_day = await store.load("client-a", day=TUESDAY, limit=2)

    assert refused
    assert later.allows("r1")  # read already today: not counted again
    assert alerted  # the day's first refusal raises the alert
    assert not second_alert  # and only the first
    assert next_day.allows("r3")
    assert (await store.load("client-b", day=MONDAY, limit=2)).allows("r3")  # per client
