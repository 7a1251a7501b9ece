"""The per-request context: who calls, one database connection, and the request's loaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from schema.loaders import Loaders


@dataclass(frozen=True)
class Caller:
    """The authenticated caller; `grid_path` confines resident data to a subtree (None: district)."""

    client_id: str | None = None
    subject: str | None = None
    roles: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    grid_code: str | None = None
    grid_path: str | None = None


class RequestDatabase:
    """One connection per request, opened on first use and shared by the loaders in turn.

    A SQLAlchemy connection runs one statement at a time; DataLoader batches may be
    dispatched concurrently, so they take turns through a lock.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self._lock:
            if self._connection is None:
                self._connection = await self._engine.connect()
            yield self._connection

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


@dataclass(frozen=True)
class Purpose:
    """Why the data is requested (X-Request-Purpose), for whom and for which case."""

    purpose: str | None = None
    end_user: str | None = None
    case_ref: str | None = None


@dataclass
class Context:
    database: RequestDatabase
    caller: Caller
    today: date
    request_purpose: Purpose = field(default_factory=Purpose)
    max_page_size: int = 500
    denied_paths: list[list[str | int]] = field(default_factory=list)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        from schema.loaders import Loaders

        self.loaders = Loaders(self)

    @property
    def purpose(self) -> str | None:
        return self.request_purpose.purpose

    def denied(self, path: list[str | int]) -> None:
        """Remember a refused field, for the audit trail."""
        self.denied_paths.append(path)
