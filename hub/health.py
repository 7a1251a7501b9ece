"""Liveness and readiness: `/healthz` answers while the process runs, `/readyz` when it can serve."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from hub.storage import migrations

logger = logging.getLogger("gridhub.health")


def health_routes(engine: AsyncEngine, *, head: str | None) -> list[BaseRoute]:
    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        """Ready when the database answers and its schema is at the code's migration head."""
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            current = await migrations.current_revision(engine)
        except Exception:  # any failure to reach the database means "not ready"
            logger.exception("readiness check: the database cannot be reached")
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        if current != head:
            body = {"status": "migrations pending", "current": current, "head": head}
            return JSONResponse(body, 503)
        return JSONResponse({"status": "ready", "revision": current})

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
