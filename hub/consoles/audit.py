"""The auditor's console: who accessed a resident, event search, chain status, CSV export.

Everything comes from the audit API (`audit:read`). An auditor holds no resident scope, so a
resident is named by ID number (`residentAccessReport(idNumber:)`, where the hub serves it)
or by the resident id printed on the counter's card and in every event.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from hub.consoles.graphql import ConsoleGraphQL, GraphQLResult
from hub.consoles.templating import render

AUDIT_PURPOSE = "审计检查"
OUTCOMES = ("OK", "PARTIAL", "DENIED", "INVALID", "REJECTED", "LIMITED", "TIMEOUT", "ERROR")
FILTERS = ("clientId", "subject", "residentId", "outcome", "operationName", "field", "from", "to")
ID_NUMBER = re.compile(r"^\d{17}[\dXx]$|^\d{15}$")
PAGE = 50
EXPORT_PAGE = 500
EXPORT_LIMIT = 50_000

EVENT_FIELDS = """
  id chainId seq at requestId endpoint clientId subject roles gridScope clientAddress purpose
  operationType operationName outcome residentIds fields deniedPaths errorCodes
"""
EVENTS = f"""
query AuditEvents($filter: AuditFilter, $first: Int!, $after: String) {{
  auditEvents(filter: $filter, first: $first, after: $after) {{
    totalCount edges {{ node {{ {EVENT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
CHAINS = (
    "{ auditChainStatus { chainId host pid events headSeq verified problem firstBadEventId "
    "checkedFromSeq lastCheckpoint { seq at signedAt kid signatureValid } } }"
)
REPORT_FIELDS = (
    "residentId accesses { eventId at clientId subject endUser caseRef roles purpose "
    "operationName fields outcome }"
)
REPORT_BY_ID = f"query($id: ID!) {{ residentAccessReport(residentId: $id) {{ {REPORT_FIELDS} }} }}"
REPORT_BY_NUMBER = (
    f"query($n: String!) {{ residentAccessReport(idNumber: $n) {{ {REPORT_FIELDS} }} }}"
)
CSV_COLUMNS = (
    "at", "chainId", "seq", "clientId", "subject", "roles", "clientAddress", "purpose",
    "operationType", "operationName", "outcome", "residentIds", "fields", "deniedPaths",
    "errorCodes", "requestId",
)  # fmt: skip


def event_filter(params: dict[str, str]) -> dict[str, str]:
    """The AuditFilter of a search form (empty fields dropped; dates as given, ISO 8601)."""
    chosen = {name: params[name].strip() for name in FILTERS if params.get(name, "").strip()}
    if chosen.get("outcome") not in OUTCOMES:
        chosen.pop("outcome", None)
    for name in ("from", "to"):
        if name in chosen and len(chosen[name]) == 10:  # a date: its whole day, China time
            chosen[name] += "T00:00:00+08:00" if name == "from" else "T23:59:59+08:00"
    return chosen


class AuditConsole:
    def __init__(self, graphql: ConsoleGraphQL) -> None:
        self.graphql = graphql

    async def page(self, request: Request) -> Response:
        params = dict(request.query_params)
        filters = event_filter(params)
        variables: dict[str, Any] = {"filter": filters, "first": PAGE, "after": params.get("after")}
        events = await self._run(request, EVENTS, variables)
        chains = await self._run(request, CHAINS, {})
        context = {
            "params": params,
            "outcomes": OUTCOMES,
            "events": (events.data or {}).get("auditEvents"),
            "chains": (chains.data or {}).get("auditChainStatus"),
            "error": events.first_message() or chains.first_message(),
            "export_query": request.url.query,
        }
        report_for = params.get("resident", "").strip()
        if report_for:
            context.update(await self._report(request, report_for))
        return render(request, "audit.html", context)

    async def _report(self, request: Request, resident: str) -> dict[str, Any]:
        if ID_NUMBER.match(resident):
            result = await self._run(request, REPORT_BY_NUMBER, {"n": resident.upper()})
            if any("idNumber" in (e.get("message") or "") for e in result.errors):
                return {"report_error": "access.report.hint"}  # the hub does not serve it yet
        else:
            result = await self._run(request, REPORT_BY_ID, {"id": resident})
        report = (result.data or {}).get("residentAccessReport")
        if report is None:
            return {"report_error": result.first_message() or "not_found"}
        return {"report": report}

    async def export(self, request: Request) -> Response:
        filters = event_filter(dict(request.query_params))
        rows = self._rows(request, filters)
        headers = {
            "Content-Disposition": 'attachment; filename="audit-events.csv"',
            "Cache-Control": "no-store",
        }
        return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)

    async def _rows(self, request: Request, filters: dict[str, str]) -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        yield "\ufeff"  # a BOM, so spreadsheet programs read the Chinese purposes right
        writer.writerow(CSV_COLUMNS)
        after, written = None, 0
        while written < EXPORT_LIMIT:
            variables = {"filter": filters, "first": EXPORT_PAGE, "after": after}
            result = await self._run(request, EVENTS, variables)
            page = (result.data or {}).get("auditEvents")
            if page is None:
                writer.writerow([f"# stopped: {result.first_message()}"])
                break
            for edge in page["edges"]:
                writer.writerow([_cell(edge["node"].get(column)) for column in CSV_COLUMNS])
                written += 1
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        yield buffer.getvalue()

    async def _run(self, request: Request, query: str, variables: dict[str, Any]) -> GraphQLResult:
        console = request.state.console
        return await self.graphql.execute(request, console, query, variables, purpose=AUDIT_PURPOSE)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    text = "" if value is None else str(value)
    # CSV injection: a cell a spreadsheet would run as a formula is quoted as text
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
