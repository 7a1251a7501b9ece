"""Gives each operation its own ledger, loaders and database connection, closed when it ends.

An HTTP request is one operation, so its context is used as built. A websocket's operations
share one connection-wide context (strawberry builds it at the handshake): each operation
runs on a copy that keeps only the caller and the request's identity, with the field keys
as they are now (a rotation may have added one since the handshake).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension

from hub.crypto.store import field_keys
from schema.context import Context


class OperationScope(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and isinstance(context.request.connection, WebSocket):
            context = self.execution_context.context = context.for_operation()
            context.fields = await field_keys(context.database.engine).ring()
        try:
            yield
        finally:
            if isinstance(context, Context):
                await context.database.close()
