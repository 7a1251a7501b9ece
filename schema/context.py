"""The per-request context: who calls, one database connection, and the request's loaders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.responses import Response

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
        self.engine = engine
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self._lock:
            if self._connection is None:
                self._connection = await self.engine.connect()
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
class RequestInfo:
    """Where the request came from, for the audit trail."""

    request_id: str = ""
    endpoint: str = "graphql"
    client_address: str | None = None
    response: Response | None = None  # the response under construction (status, headers)


@dataclass
class Context:
    database: RequestDatabase
    caller: Caller
    today: date
    request_purpose: Purpose = field(default_factory=Purpose)
    request: RequestInfo = field(default_factory=RequestInfo)
    max_page_size: int = 500
    denied_paths: list[list[str | int]] = field(default_factory=list)
    resident_ids: set[str] = field(default_factory=set)
    accessed_fields: set[str] = field(default_factory=set)
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
