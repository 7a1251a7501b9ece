"""`hub connectors status`: each stream's cursor, its last run with counts, and the lag since."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.models import ConnectorRun, ConnectorState
from hub.storage.session import create_sessionmaker


async def stream_status(engine: AsyncEngine, *, now: datetime) -> list[dict[str, Any]]:
    """Per stream ever run: its cursor, its last run (by id) and the lag since the cursor moved."""
    last_ids = select(func.max(ConnectorRun.id)).group_by(
        ConnectorRun.connector, ConnectorRun.stream
    )
    async with create_sessionmaker(engine)() as session:
        states = {(s.connector, s.stream): s for s in await session.scalars(select(ConnectorState))}
        runs = await session.scalars(select(ConnectorRun).where(ConnectorRun.id.in_(last_ids)))
        last = {(r.connector, r.stream): r for r in runs}
    return [
        _row(key, last.get(key), states.get(key), now) for key in sorted(set(states) | set(last))
    ]


def _row(
    key: tuple[str, str], run: ConnectorRun | None, state: ConnectorState | None, now: datetime
) -> dict[str, Any]:
    synced_at = state.updated_at if state else None
    return {
        "connector": key[0],
        "stream": key[1],
        "cursor": state.cursor if state else None,
        "cursor_updated_at": synced_at.isoformat() if synced_at else None,
        "lag_seconds": (now - synced_at).total_seconds() if synced_at else None,
        "last_run": None if run is None else {
            "id": run.id, "status": run.status.value, "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "read": run.read, "inserted": run.inserted, "updated": run.updated,
            "unchanged": run.unchanged, "quarantined": run.quarantined,
            "reasons": run.reasons or {}, "error": run.error,
        },
    }  # fmt: skip
