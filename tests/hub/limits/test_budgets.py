"""Cost buckets: decided in memory, written behind to the database, shared and kept across restarts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.limits.budgets import Buckets, Decision, Rate


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


RATE = Rate(capacity=60)  # one unit a second


async def test_a_bucket_spends_until_empty_then_refuses_with_the_wait(engine: AsyncEngine) -> None:
    clock = Clock()
    buckets = Buckets(engine, clock=clock)

    spent = await buckets.spend("client:a", 50, RATE)
    refused = await buckets.spend("client:a", 20, RATE)

    assert spent.allowed
    assert spent.remaining == 10
    assert not refused.allowed
    assert refused.remaining == 10
    assert refused.retry_after == 10
    assert refused.headers() == {
        "RateLimit-Policy": '"cost";q=60;w=60',
        "RateLimit": '"cost";r=10;t=50',
        "Retry-After": "10",
    }


async def test_a_bucket_refills_with_time_up_to_its_capacity(engine: AsyncEngine) -> None:
    clock = Clock()
    buckets = Buckets(engine, clock=clock)
    await buckets.spend("client:a", 60, RATE)

    clock.now += 10
    after_ten = await buckets.spend("client:a", 10, RATE)
    clock.now += 3600
    after_an_hour = await buckets.spend("client:a", 0, RATE)

    assert after_ten.allowed
    assert after_ten.remaining == 0
    assert after_an_hour.remaining == 60


async def test_what_one_worker_spends_the_others_see_after_a_sync(engine: AsyncEngine) -> None:
    clock = Clock()
    first, second = Buckets(engine, clock=clock), Buckets(engine, clock=clock)

    await first.spend("client:a", 40, RATE)
    clock.now += 1.0  # one sync interval later
    await first.spend("client:a", 0, RATE)  # writes its spending behind
    seen = await second.spend("client:a", 30, RATE)

    assert not seen.allowed  # 60 - 40 + 1 refilled = 21 left, not 30
    assert 20 <= seen.remaining <= 22


async def test_spending_survives_a_restart(engine: AsyncEngine) -> None:
    clock = Clock()
    before = Buckets(engine, clock=clock)
    await before.spend("client:a", 55, RATE)
    await before.flush()  # what the app does when it stops

    after = Buckets(engine, clock=clock)
    decision = await after.spend("client:a", 10, RATE)

    assert not decision.allowed
    assert decision.remaining == 5


def test_a_request_costlier_than_the_whole_budget_waits_for_a_full_bucket() -> None:
    decision = Decision(allowed=False, cost=500, remaining=0, rate=RATE)

    assert decision.retry_after == 60
