"""Case events: what just happened to a case, told to the subscribers of every hub process.

The unit of work that moves a case (or opens one) records the event (`record`); subscribers
(`EventBus.subscribe`) hear of it only once that work is committed:

- PostgreSQL: `record` runs `pg_notify('gridhub_case_events', json)` inside the same
  transaction, so the event travels only if the transaction commits, and reaches every
  process LISTENing on the database (each bus holds one listening connection, reconnecting
  when it is lost): the workers and replicas of one PostgreSQL see each other's events.
- SQLite has no notifications between processes. `record` keeps the event on the session,
  and a session `after_commit` listener hands it to the bus of that engine in this process:
  a subscriber hears of the writes made by the process it is connected to (one `hub serve`
  worker and its connector runs), not of those made by other processes (`hub sync` from the
  command line, other workers). Run several workers on PostgreSQL.

Overdue is derived from the clock, never written, so nobody records it: each bus sweeps
every `sweep_seconds` for open cases whose deadline passed since its last sweep and tells its
own subscribers (every process derives the same, so nothing needs to travel). A subscriber
that falls `queue_size` events behind loses the oldest ones (`Subscription.dropped`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from hub.governance.enums import CaseAction
from hub.governance.states import OPEN_STATES
from hub.storage.base import utcnow
from hub.storage.models import Case, CaseAssignment
from hub.vocabulary import Department

log = logging.getLogger("hub.governance.events")

CHANNEL = "gridhub_case_events"
_PENDING = "gridhub.case_events"


class CaseEventKind(StrEnum):
    REPORTED = "REPORTED"  # a new case (reported, found on a visit or patrol, from the hotline)
    ACCEPTED = "ACCEPTED"
    ESCALATED = "ESCALATED"  # handed up to the parent grid
    ASSIGNED = "ASSIGNED"  # given to departments (`new_departments`)
    RESOLVED = "RESOLVED"
    VERIFIED = "VERIFIED"
    CLOSED = "CLOSED"
    REOPENED = "REOPENED"
    OVERDUE = "OVERDUE"  # the deadline of its current stage just passed (derived, per process)


KIND_OF_ACTION: dict[CaseAction, CaseEventKind] = {
    CaseAction.REPORT: CaseEventKind.REPORTED,
    CaseAction.ACCEPT: CaseEventKind.ACCEPTED,
    CaseAction.ESCALATE: CaseEventKind.ESCALATED,
    CaseAction.ASSIGN: CaseEventKind.ASSIGNED,
    CaseAction.RESOLVE: CaseEventKind.RESOLVED,
    CaseAction.VERIFY: CaseEventKind.VERIFIED,
    CaseAction.CLOSE: CaseEventKind.CLOSED,
    CaseAction.REOPEN: CaseEventKind.REOPENED,
}


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One thing that happened to one case; enough to decide who may hear of it."""

    kind: CaseEventKind
    case_id: str
    grid_path: str  # the reporting grid's (row scope)
    holding_grid_path: str  # the grid holding it after the event
    at: datetime
    version: int
    departments: tuple[Department, ...] = ()  # every department it is assigned to
    new_departments: tuple[Department, ...] = ()  # those this event assigned it to

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind.value, "case_id": self.case_id, "grid_path": self.grid_path,
                "holding_grid_path": self.holding_grid_path, "at": self.at.isoformat(),
                "version": self.version, "departments": [d.value for d in self.departments],
                "new_departments": [d.value for d in self.new_departments],
            },
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> CaseEvent:
        data = json.loads(text)
        return cls(
            kind=CaseEventKind(data["kind"]),
            case_id=str(data["case_id"]),
            grid_path=str(data["grid_path"]),
            holding_grid_path=str(data["holding_grid_path"]),
            at=datetime.fromisoformat(data["at"]),
            version=int(data["version"]),
            departments=tuple(Department(d) for d in data["departments"]),
            new_departments=tuple(Department(d) for d in data["new_departments"]),
        )


async def record(session: AsyncSession, case_event: CaseEvent) -> None:
    """Tell subscribers about `case_event` once the session's transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, case_event.to_json())))
    else:
        session.info.setdefault(_PENDING, []).append(case_event)


# --- delivery after commit (SQLite) -------------------------------------------------------------

_BUSES: weakref.WeakKeyDictionary[Engine, weakref.WeakSet[EventBus]] = weakref.WeakKeyDictionary()


@event.listens_for(Session, "after_commit")
def _deliver_committed(session: Session) -> None:
    pending: list[CaseEvent] = session.info.pop(_PENDING, [])
    if not pending:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    for bus in list(_BUSES.get(engine, ())):
        for case_event in pending:
            bus.deliver(case_event)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


# --- the bus ------------------------------------------------------------------------------------


@dataclass(eq=False)
class Subscription:
    """One subscriber's queue of events; iterate it, close it when done."""

    bus: EventBus
    queue: asyncio.Queue[CaseEvent | None]
    dropped: int = 0
    closed: bool = False

    def offer(self, case_event: CaseEvent) -> None:
        if self.closed:
            return
        if self.queue.full():
            self.queue.get_nowait()  # the oldest goes: a slow subscriber must not hold the bus
            self.dropped += 1
        self.queue.put_nowait(case_event)

    def __aiter__(self) -> AsyncIterator[CaseEvent]:
        return self

    async def __anext__(self) -> CaseEvent:
        if self.closed:
            raise StopAsyncIteration
        case_event = await self.queue.get()
        if case_event is None:
            raise StopAsyncIteration
        return case_event

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bus.unsubscribe(self)
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)


@dataclass(eq=False)
class EventBus:
    """This process's case events for one database (see the module docstring)."""

    engine: AsyncEngine
    sweep_seconds: float = 30.0
    queue_size: int = 256
    clock: Callable[[], datetime] = utcnow
    _subscriptions: set[Subscription] = field(default_factory=set)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _swept_until: datetime | None = None
    _listening: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        _BUSES.setdefault(self.engine.sync_engine, weakref.WeakSet()).add(self)

    @property
    def uses_notifications(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def subscribe(self) -> Subscription:
        """A new subscription; the bus starts listening and sweeping on the first one."""
        if not self._tasks:
            self._start()
        if self.uses_notifications:
            await self._listening.wait()  # events committed from now on are heard
        subscription = Subscription(self, asyncio.Queue(self.queue_size))
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def deliver(self, case_event: CaseEvent) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(case_event)

    def _start(self) -> None:
        self._swept_until = self.clock()
        self._tasks.append(asyncio.create_task(self._sweep_forever()))
        if self.uses_notifications:
            self._tasks.append(asyncio.create_task(self._listen_forever()))
        else:
            self._listening.set()

    async def stop(self) -> None:
        """End every subscription and stop listening (the app's shutdown)."""
        for subscription in list(self._subscriptions):
            subscription.close()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._listening.clear()

    # -- overdue, derived ---------------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await self.sweep_once()
            except Exception:  # the next sweep covers the same span again
                log.exception("overdue sweep failed")

    async def sweep_once(self, now: datetime | None = None) -> list[CaseEvent]:
        """Tell subscribers of the open cases whose deadline passed since the last sweep."""
        since, until = self._swept_until or self.clock(), now or self.clock()
        if not self._subscriptions:
            self._swept_until = until
            return []
        async with self.engine.connect() as connection:
            found = await overdue_between(connection, since=since, until=until)
        self._swept_until = until
        for case_event in found:
            self.deliver(case_event)
        return found

    # -- notifications (PostgreSQL) -----------------------------------------------------------

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._listen_once()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("listening for case events failed; retrying in %.1f s", delay)
            self._listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _listen_once(self) -> None:
        lost = asyncio.Event()
        async with self.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None

            def heard(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
                try:
                    self.deliver(CaseEvent.from_json(payload))
                except (ValueError, KeyError):
                    log.warning("unreadable case event %r", payload[:200])

            driver.add_termination_listener(lambda _connection: lost.set())
            await driver.add_listener(CHANNEL, heard)
            self._listening.set()
            try:
                await lost.wait()
            finally:
                with contextlib.suppress(Exception):
                    await driver.remove_listener(CHANNEL, heard)
        raise ConnectionError("the connection listening for case events was lost")


async def overdue_between(
    connection: AsyncConnection, *, since: datetime, until: datetime
) -> list[CaseEvent]:
    """OVERDUE events for open cases whose current deadline lies in (since, until]."""
    query = select(
        Case.id, Case.grid_path, Case.holding_grid_path, Case.due_at, Case.version
    ).where(
        Case.due_at > since,
        Case.due_at <= until,
        Case.state.in_(OPEN_STATES),
    )
    rows = (await connection.execute(query.order_by(Case.due_at, Case.id))).all()
    if not rows:
        return []
    assigned: dict[str, list[Department]] = {}
    departments = select(CaseAssignment.case_id, CaseAssignment.department).where(
        CaseAssignment.case_id.in_([row.id for row in rows]),
        CaseAssignment.department.is_not(None),
    )
    for case_id, department in await connection.execute(departments):
        if department is not None:
            assigned.setdefault(case_id, []).append(department)
    return [
        CaseEvent(
            CaseEventKind.OVERDUE, row.id, row.grid_path, row.holding_grid_path, row.due_at,
            row.version, tuple(dict.fromkeys(assigned.get(row.id, ()))),
        )
        for row in rows
    ]  # fmt: skip
