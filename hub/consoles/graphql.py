"""The consoles' GraphQL client: the hub's own `/graphql`, called in process with the person's token.

Each console page is a client of the API like any other: the request goes through the same
ASGI app as a request from outside (bearer token check, access rules, row scope, purpose,
one audit event under the person's name as `subject`), only without a network hop
(httpx's `ASGITransport`). The person's address and request id are passed on, so the audit
trail records where the person sat. Chinese purposes travel percent-encoded (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.consoles.middleware import ConsoleContext


@dataclass(frozen=True)
class GraphQLResult:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def codes(self) -> set[str]:
        return {str((e.get("extensions") or {}).get("code", "")) for e in self.errors}

    def denied(self) -> set[str]:
        """Paths (dotted, list indexes dropped) the caller may not see: shown as such."""
        return {
            ".".join(str(p) for p in e.get("path") or [] if not isinstance(p, int))
            for e in self.errors
            if (e.get("extensions") or {}).get("code") == "FORBIDDEN"
        }

    def first_message(self) -> str | None:
        return str(self.errors[0].get("message")) if self.errors else None


class ConsoleGraphQL:
    """Posts documents to the unified GraphQL endpoint in process."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def _within(self, request: Request) -> ASGIApp:
        """The GraphQL app seeing the hub app in its scope, as a request from outside does
        (resolvers find the app state there: the audit trail's redactor, settings)."""
        outer = request.scope.get("app")

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await self.app({**scope, "app": outer} if outer is not None else scope, receive, send)

        return app

    async def execute(
        self,
        request: Request,
        console: ConsoleContext,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        purpose: str | None = None,
    ) -> GraphQLResult:
        headers = {
            "Authorization": f"Bearer {console.access_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if purpose:
            headers["X-Request-Purpose"] = quote(purpose, safe="")
        if request_id := request.headers.get("x-request-id"):
            headers["X-Request-Id"] = request_id
        client = (request.client.host, request.client.port) if request.client else ("127.0.0.1", 0)
        transport = httpx.ASGITransport(app=self._within(request), client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.internal") as http:
            response = await http.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
        try:
            body = response.json()
        except ValueError:
            return GraphQLResult(None, [{"message": f"HTTP {response.status_code}"}])
        return GraphQLResult(body.get("data"), list(body.get("errors") or []))
