"""What the governance fields share: the caller as an actor, sessions for reads and writes,
periods, and the checks every argument passes before the domain sees it.

Reads use the request's own connection (`reading`); KPIs get a transaction of their own
(`in_transaction`: their SQL sets transaction-local planner options). A mutation is one unit
of work (`write`): a session and transaction of its own on the request's engine, committed
when the service returns, rolled back when it raises (which also frees the idempotency key).
Once committed, the rows it inserted that record a change (case traces, visits, patrols,
joint meetings) go into the request's access ledger (`AccessLedger.wrote`), hence into its
audit event.
Whatever the domain raises (`hub.errors.HubError`) reaches the caller with its own code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import TypeVar

import strawberry
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from hub.audit.ledger import Write
from hub.errors import BadInputError
from hub.governance.periods import Period
from hub.governance.permissions import Actor, actor_from_caller
from hub.storage.models import CaseTrace, JointMeeting, Patrol, Visit
from hub.storage.session import create_sessionmaker
from schema.context import Info

T = TypeVar("T")

CASES_READ = [["cases:read"]]
CASES_WRITE = [["cases:write"]]
VISITS_WRITE = [["visits:write"]]
KPI_READ = [["kpi:read"]]
RESIDENT_BASIC = [["resident:basic"]]

MAX_KEY = 128
"""The longest id, code or key an argument may carry (the columns' width)."""


def actor_of(info: Info) -> Actor:
    return actor_from_caller(info.context.caller)


@asynccontextmanager
async def reading(info: Info) -> AsyncIterator[AsyncSession]:
    """A session over the request's read connection (no transaction of its own)."""
    async with info.context.database.connect() as connection:
        session = AsyncSession(bind=connection)
        try:
            yield session
        finally:
            await session.close()


@asynccontextmanager
async def in_transaction(info: Info) -> AsyncIterator[AsyncSession]:
    """A transaction of its own (begun by the first statement), rolled back when it closes."""
    async with create_sessionmaker(info.context.database.engine)() as session:
        yield session


async def write(info: Info, work: Callable[[AsyncSession, Actor], Awaitable[T]]) -> T:
    """Run `work` as one unit of work for the caller: committed, or rolled back if it raises."""
    actor = actor_of(info)
    written: list[Write] = []

    def collect(flushed: Session, _: UOWTransaction) -> None:
        written.extend(entry for row in flushed.new if (entry := _write_of(row)) is not None)

    async with create_sessionmaker(info.context.database.engine)() as session:
        event.listen(session.sync_session, "after_flush", collect)
        async with session.begin():
            result = await work(session, actor)
    for entry in written:
        info.context.ledger.wrote(entry)
    return result


_KINDS: dict[type, str] = {Visit: "visit", Patrol: "patrol", JointMeeting: "meeting"}


def _write_of(row: object) -> Write | None:
    if isinstance(row, CaseTrace):
        return Write(
            "case", row.case_id, action=str(row.action), seq=row.seq, to_state=str(row.to_state),
            from_state=None if row.from_state is None else str(row.from_state),
        )  # fmt: skip
    if isinstance(row, Visit | Patrol | JointMeeting):
        return Write(_KINDS[type(row)], row.id)
    return None


def check_key(value: str, argument: str) -> str:
    """An id, code or key: 1 to 128 printable characters."""
    if not value or len(value) > MAX_KEY or not value.isprintable():
        raise BadInputError(
            f"`{argument}` must be 1 to {MAX_KEY} printable characters", argument=argument
        )
    return value


def check_keys(values: list[strawberry.ID] | None, argument: str) -> tuple[str, ...]:
    return tuple(check_key(str(value), argument) for value in values or ())


def check_aware(value: datetime, argument: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadInputError(
            f"`{argument}` needs a time zone, e.g. 2026-09-01T08:30:00+08:00", argument=argument
        )
    return value


@strawberry.input(
    name="PeriodInput",
    description=(
        "Civil days in China. Give exactly one of: `day`; `week` (any day of it; weeks run "
        "Monday to Sunday); `month` (YYYY-MM); or `start` and `end` (both included, at most "
        "366 days)."
    ),
)
class PeriodInput:
    day: date | None = None
    week: date | None = None
    month: str | None = None
    start: date | None = None
    end: date | None = None

    def to_period(self) -> Period:
        given = [
            name
            for name, value in (("day", self.day), ("week", self.week), ("month", self.month))
            if value is not None
        ]
        ranged = self.start is not None or self.end is not None
        if len(given) + ranged != 1 or (ranged and (self.start is None or self.end is None)):
            raise BadInputError(
                "a period is exactly one of: day, week, month, or start and end",
                argument="period",
            )
        if self.day is not None:
            return Period.day(self.day)
        if self.week is not None:
            return Period.week_of(self.week)
        if self.month is not None:
            return _month(self.month)
        assert self.start is not None
        assert self.end is not None
        return Period(self.start, self.end)


def _month(text: str) -> Period:
    year, _, month = text.partition("-")
    if not (len(year) == 4 and year.isdigit() and len(month) == 2 and month.isdigit()):
        raise BadInputError(f"month {text!r} is not YYYY-MM", argument="period")
    if not 1 <= int(month) <= 12 or int(year) < 1:
        raise BadInputError(f"month {text!r} is not YYYY-MM", argument="period")
    return Period.month(int(year), int(month))


@strawberry.type(description="A run of civil days in China, both ends included.")
class PeriodSpan:
    start: date
    end: date

    @classmethod
    def of(cls, period: Period) -> PeriodSpan:
        return cls(start=period.start, end=period.end)
