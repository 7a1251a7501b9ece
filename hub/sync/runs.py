"""Run records in connector_runs and each stream's committed cursor in connector_state."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from connectors.base import Batch, Cursor
from hub.storage.base import utcnow
from hub.storage.models import ConnectorRun, ConnectorState, RunStatus
from hub.storage.session import create_sessionmaker
from hub.sync.context import StreamContext
from hub.sync.limits import check_rejections
from hub.sync.pipeline import ingest_records
from hub.sync.results import Counts, RunSummary

log = logging.getLogger("hub.sync")


async def load_cursor(session: AsyncSession, *, connector: str, stream: str) -> Cursor | None:
    state = await session.get(ConnectorState, (connector, stream))
    return None if state is None else state.cursor


async def save_cursor(
    session: AsyncSession, *, connector: str, stream: str, cursor: Cursor
) -> None:
    state = await session.get(ConnectorState, (connector, stream))
    if state is None:
        session.add(
            ConnectorState(connector=connector, stream=stream, cursor=cursor, updated_at=utcnow())
        )
    else:
        state.cursor, state.updated_at = cursor, utcnow()


class StreamRun:
    """One recorded run of one stream: its row in connector_runs and the batches it writes.

    `accept_rejections` lifts the mapping-rejection limits (hub/sync/limits.py) for this run.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        context: StreamContext,
        *,
        full: bool,
        accept_rejections: bool = False,
    ) -> None:
        self.engine, self.context, self.full = engine, context, full
        self.accept_rejections = accept_rejections
        self.sessionmaker = create_sessionmaker(engine)
        self.counts = Counts()
        self.run_id: int | None = None
        self.started_at = utcnow()
        self.names = {"connector": context.connector, "stream": context.stream}

    async def start(self) -> Cursor | None:
        """Close runs a killed process left RUNNING, record this one, return the cursor to read from."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(ConnectorRun)
                .where(ConnectorRun.connector == self.context.connector)
                .where(ConnectorRun.stream == self.context.stream)
                .where(ConnectorRun.status == RunStatus.RUNNING)
                .values(
                    status=RunStatus.FAILED,
                    finished_at=utcnow(),
                    error=(
                        "interrupted: the process ended mid-run; batches written before stay "
                        "and the next run resumed after the last of them"
                    ),
                )
            )
            cursor = await load_cursor(session, **self.names)
            run = ConnectorRun(
                **self.names, status=RunStatus.RUNNING, full=self.full, cursor_before=cursor
            )
            self.started_at = run.started_at = utcnow()
            session.add(run)
            await session.flush()
            self.run_id = run.id
        return None if self.full else cursor

    async def write(self, batch: Batch) -> Counts:
        """One transaction: the batch's records, quarantine, the new cursor and the run's counts.

        Raises TooManyRejectionsError (nothing of the batch committed) past the limits. A
        batch the database refuses as a whole is written again record by record, so a record
        it refuses alone is quarantined (WRITE_ERROR) and the rest commit.
        """
        try:
            return await self._write_once(batch)
        except IntegrityError:
            # Maybe another stream created the same resident or household concurrently: the
            # second attempt sees its rows. Failing again, a record is at fault.
            try:
                return await self._write_once(batch)
            except SQLAlchemyError as error:
                self._refused(error)
        except SQLAlchemyError as error:
            self._refused(error)
        return await self._write_once(batch, isolate=True)

    def _refused(self, error: SQLAlchemyError) -> None:
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            raise error  # the database went away: record by record cannot help
        log.warning("%s/%s: batch refused, writing it record by record: %s",
                    self.context.connector, self.context.stream, error)  # fmt: skip

    async def _write_once(self, batch: Batch, *, isolate: bool = False) -> Counts:
        async with self.sessionmaker() as session, session.begin():
            result = await ingest_records(
                session, self.context, batch.records, started_at=self.started_at, isolate=isolate
            )
            if not self.accept_rejections:
                check_rejections(self.context, result, self.counts)
            cursor = batch.cursor_after(result.movers)
            await save_cursor(session, **self.names, cursor=cursor)
            reasons = dict(self.counts.reasons + result.counts.reasons)
            await session.execute(
                update(ConnectorRun)
                .where(ConnectorRun.id == self.run_id)
                .values(cursor_after=cursor, reasons=reasons or None, **_increments(result.counts))
            )
        self.counts.add(result.counts)
        return result.counts

    async def finish(self, status: RunStatus, error: str | None = None) -> RunSummary:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(ConnectorRun)
                .where(ConnectorRun.id == self.run_id)
                .values(status=status, finished_at=utcnow(), error=error)
            )
        return RunSummary(
            **self.names, status=status, counts=self.counts, error=error, run_id=self.run_id
        )


def runaway_watermark(cursor: Cursor | None, *, limit: datetime) -> str | None:
    """The cursor's watermark when it lies after `limit`: left by a record dated in the future
    before the hub refused such records, or by a wrong clock. None when it does not."""
    value = (cursor or {}).get("watermark")
    if isinstance(value, dict):  # a sql cursor: {"type": …, "value": …}
        value = value.get("value")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:  # a source's local time: allow for any zone
        moment, limit = moment.replace(tzinfo=UTC), limit + timedelta(hours=14)
    return value if moment > limit else None


def _increments(counts: Counts) -> dict[str, Any]:
    columns = ConnectorRun.__table__.c
    return {name: columns[name] + value for name, value in counts.as_dict().items()}


async def record_skipped(engine: AsyncEngine, context: StreamContext, reason: str) -> RunSummary:
    async with create_sessionmaker(engine)() as session, session.begin():
        now = utcnow()
        run = ConnectorRun(
            connector=context.connector, stream=context.stream, status=RunStatus.SKIPPED,
            started_at=now, finished_at=now, error=reason,
        )  # fmt: skip
        session.add(run)
        await session.flush()
        run_id = run.id
    return RunSummary(
        context.connector, context.stream, RunStatus.SKIPPED, Counts(), reason, run_id
    )
