"""The administrator's console: connectors and last runs, quarantine with retry, clients, users."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hub.consoles.graphql import ConsoleGraphQL
from hub.consoles.templating import render

OVERVIEW = """
query AdminOverview($connector: String, $after: Int!) {
  connectorStreams {
    connector stream cursor cursorUpdatedAt lastRunStatus lastRunStartedAt lastRunFinishedAt
    read inserted updated quarantined error
  }
  quarantinedRecords(connector: $connector, first: 50, after: $after) {
    id connector stream recordKey reason message attempts lastSeenAt
  }
  oauthClients { clientId name role grid authMethod createdAt revokedAt }
  staffAccounts { name role grid lastLoginAt lockedUntil disabledAt }
}
"""
RETRY = """
mutation Retry($connector: String, $stream: String) {
  retryQuarantine(connector: $connector, stream: $stream) { retried resolved remaining skippedStreams }
}
"""


class AdminConsole:
    def __init__(self, graphql: ConsoleGraphQL) -> None:
        self.graphql = graphql

    async def page(self, request: Request, *, retried: dict[str, object] | None = None) -> Response:
        connector = request.query_params.get("connector") or None
        after = request.query_params.get("after", "0")
        variables = {"connector": connector, "after": int(after) if after.isdigit() else 0}
        result = await self.graphql.execute(request, request.state.console, OVERVIEW, variables)
        context = {
            **(result.data or {}),
            "error": result.first_message(),
            "retried": retried,
            "connector": connector or "",
        }
        return render(request, "admin.html", context)

    async def retry(self, request: Request) -> Response:
        form: dict[str, str] = request.state.form
        variables = {
            "connector": form.get("connector") or None,
            "stream": form.get("stream") or None,
        }
        result = await self.graphql.execute(request, request.state.console, RETRY, variables)
        outcome = (result.data or {}).get("retryQuarantine") or {"error": result.first_message()}
        return await self.page(request, retried=outcome)
