"""Gives each operation its own ledger, loaders and database connection, closed when it ends.

An HTTP request is one operation, so its context is used as built. A websocket's operations
share one connection-wide context (strawberry builds it at the handshake): each operation
runs on a copy that keeps only the caller and the request's identity, with the field keys
as they are now (a rotation may have added one since the handshake).

A cancelled operation (the execution timeout) closes its connection in the background: the
query it was waiting for may still hold the connection, and the answer should not wait.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from hub.crypto.store import field_keys
from schema.context import Context

logger = logging.getLogger("gridhub.graphql")
_closing: set[asyncio.Task[None]] = set()


class OperationScope(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and isinstance(context.request.connection, WebSocket):
            context = self.execution_context.context = context.for_operation()
            context.fields = await field_keys(context.database.engine).ring()
        cancelled = False
        try:
            yield
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            if isinstance(context, Context) and cancelled:
                task = asyncio.create_task(_close(context))
                _closing.add(task)
                task.add_done_callback(_closing.discard)
            elif isinstance(context, Context):
                await _close(context)


async def _close(context: Context) -> None:
    """Give the connection back; one the database already dropped is no failure of the request."""
    try:
        await context.database.close()
    except Exception as error:  # the answer is made: nothing to tell the caller
        logger.warning("closing the request's database connection failed: %s", error)
