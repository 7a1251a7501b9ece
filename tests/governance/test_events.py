"""Case events: heard once the work commits, never when it rolls back; across processes on
PostgreSQL (LISTEN/NOTIFY), within the process on SQLite; overdue derived by each bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.errors import BadInputError
from hub.governance import actions, cases
from hub.governance.events import CaseEvent, CaseEventKind, EventBus, Subscription
from hub.storage.session import create_engine
from hub.vocabulary import Department
from tests.governance.conftest import BUILDING, COMMUNITY, Governance, actor, draft

WORKER = actor("grid_worker", BUILDING)
DISPATCHER = actor("district_dispatcher")


@pytest.fixture
async def bus(engine: AsyncEngine) -> AsyncIterator[EventBus]:
    events = EventBus(engine, sweep_seconds=3600)
    yield events
    await events.stop()


async def next_event(subscription: Subscription, timeout: float = 5.0) -> CaseEvent:
    return await asyncio.wait_for(anext(subscription), timeout)


async def nothing_more(subscription: Subscription) -> bool:
    try:
        await asyncio.wait_for(anext(subscription), 0.5)
    except TimeoutError:
        return True
    return False


async def test_a_committed_report_and_its_moves_are_heard_in_order(
    gov: Governance, bus: EventBus
) -> None:
    subscription = await bus.subscribe()

    case = await gov.report(WORKER)
    case = await gov.move("accept", WORKER, case)
    case = await gov.move("escalate", WORKER, case)

    heard = [await next_event(subscription) for _ in range(3)]
    assert [e.kind for e in heard] == [
        CaseEventKind.REPORTED, CaseEventKind.ACCEPTED, CaseEventKind.ESCALATED
    ]  # fmt: skip
    assert {e.case_id for e in heard} == {case.id}
    assert [e.version for e in heard] == [1, 2, 3]
    assert heard[-1].holding_grid_path.endswith(f"{COMMUNITY}/")
    assert heard[0].grid_path.endswith(f"{BUILDING}/")


async def test_work_rolled_back_is_never_heard(gov: Governance, bus: EventBus) -> None:
    subscription = await bus.subscribe()

    async def report_then_fail(session: AsyncSession) -> None:
        await cases.report_case(
            session, actor=WORKER, idempotency_key="k", grid_code=BUILDING, draft=draft(),
            clock=gov.clock,
        )  # fmt: skip
        raise BadInputError("the caller's unit of work failed after the report")

    with pytest.raises(BadInputError):
        await gov.run(report_then_fail)

    assert await nothing_more(subscription)


async def test_an_assignment_names_the_departments_it_added(gov: Governance, bus: EventBus) -> None:
    case = await gov.assigned(Department.HEALTH)
    subscription = await bus.subscribe()

    await gov.move("assign", DISPATCHER, case, departments=[Department.POLICE])

    event = await next_event(subscription)
    assert event.kind is CaseEventKind.ASSIGNED
    assert event.new_departments == (Department.POLICE,)
    assert set(event.departments) == {Department.HEALTH, Department.POLICE}


async def test_a_retried_request_is_not_heard_twice(gov: Governance, bus: EventBus) -> None:
    case = await gov.report(WORKER)
    subscription = await bus.subscribe()

    async def accept(session: AsyncSession) -> object:
        return await actions.accept_case(
            session, actor=WORKER, case_id=case.id, expected_version=1,
            idempotency_key="retry", clock=gov.clock,
        )  # fmt: skip

    await gov.run(accept)
    await gov.run(accept)

    assert (await next_event(subscription)).kind is CaseEventKind.ACCEPTED
    assert await nothing_more(subscription)


async def test_each_bus_derives_the_cases_that_just_became_overdue(
    gov: Governance, bus: EventBus
) -> None:
    late = await gov.report(WORKER)  # due two hours after T0
    done = await gov.closed()
    subscription = await bus.subscribe()
    due = late.due_at
    assert due is not None

    before = await bus.sweep_once(now=due - timedelta(seconds=1))
    at_due = await bus.sweep_once(now=due + timedelta(seconds=1))
    again = await bus.sweep_once(now=due + timedelta(minutes=5))

    assert (before, again) == ([], [])
    assert [(e.kind, e.case_id, e.at) for e in at_due] == [(CaseEventKind.OVERDUE, late.id, due)]
    assert (await next_event(subscription)).case_id == late.id
    assert done.due_at is None


async def test_a_slow_subscriber_loses_the_oldest_events_not_the_bus(
    gov: Governance, engine: AsyncEngine
) -> None:
    bus = EventBus(engine, sweep_seconds=3600, queue_size=2)
    try:
        subscription = await bus.subscribe()
        reported = [await gov.report(WORKER) for _ in range(3)]
        await asyncio.sleep(0.3)  # notifications (PostgreSQL) arrive asynchronously

        heard = [await next_event(subscription) for _ in range(2)]
    finally:
        await bus.stop()

    assert [e.case_id for e in heard] == [c.id for c in reported[1:]]
    assert subscription.dropped == 1


async def test_another_process_hears_the_event_only_on_postgresql(
    gov: Governance, bus: EventBus, database_url: str, is_postgres: bool
) -> None:
    other_engine = create_engine(database_url)  # as another worker would have
    other = EventBus(other_engine, sweep_seconds=3600)
    try:
        here, there = await bus.subscribe(), await other.subscribe()

        case = await gov.report(WORKER)

        assert (await next_event(here)).case_id == case.id
        if is_postgres:
            assert (await next_event(there)).case_id == case.id
        else:  # SQLite: events stay within the process whose engine wrote them
            assert await nothing_more(there)
    finally:
        await other.stop()
        await other_engine.dispose()
