"""Load shedding: slots, a bounded queue, and a fast refusal when a slot would come too late."""

from __future__ import annotations

import asyncio

import pytest

from hub.limits.refusals import Refusal
from hub.limits.shedding import Admission


async def test_requests_beyond_the_slots_wait_and_beyond_the_queue_are_refused_at_once() -> None:
    admission = Admission(max_in_flight=1, max_queued=1, queue_timeout=5)
    release = asyncio.Event()
    order: list[str] = []

    async def request(name: str) -> None:
        async with admission.slot():
            order.append(name)
            await release.wait()

    first = asyncio.create_task(request("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(request("second"))  # waits in the queue
    await asyncio.sleep(0)
    with pytest.raises(Refusal) as refused:
        await request("third")
    release.set()
    await asyncio.gather(first, second)

    assert order == ["first", "second"]
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "1"}
    assert refused.value.outcome.value == "LIMITED"


async def test_a_request_that_would_wait_past_the_timeout_is_refused_without_waiting() -> None:
    admission = Admission(max_in_flight=1, max_queued=100, queue_timeout=1.0)
    admission._held = 2.0  # requests have lately held their slot for two seconds
    hold = asyncio.Event()

    async def long_request() -> None:
        async with admission.slot():
            await hold.wait()

    running = asyncio.create_task(long_request())
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Refusal):
        async with admission.slot():
            pass
    waited = loop.time() - started
    hold.set()
    await running

    assert waited < 0.1


async def test_a_queued_request_gives_up_after_the_queue_timeout() -> None:
    admission = Admission(max_in_flight=1, max_queued=10, queue_timeout=0.05)
    admission._held = 0.0
    hold = asyncio.Event()

    async def long_request() -> None:
        async with admission.slot():
            await hold.wait()

    running = asyncio.create_task(long_request())
    await asyncio.sleep(0)
    with pytest.raises(Refusal):
        async with admission.slot():
            pass
    hold.set()
    await running

    assert admission.queued == 0
