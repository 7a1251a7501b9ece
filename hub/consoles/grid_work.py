"""The grid worker's work on the console: households due a visit, my cases, unpatrolled grids, KPIs.

Each part is a client of the hub's grid-governance GraphQL API (README "Governance in
GraphQL") with the signed-in person's token, like the resident list: `householdsDueVisit`
(visits:write), `cases` (cases:read), `gridsWithoutPatrol` and `kpis` (kpi:read). A part the
person's scopes do not allow is not asked for and not shown; a part whose answer is an error
or empty shows a clear empty state (`GridWork.errors` holds the message, never a trace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request

from hub.consoles.graphql import ConsoleGraphQL, GraphQLResult
from hub.consoles.middleware import ConsoleContext

CHINA = ZoneInfo("Asia/Shanghai")
OPEN_STATES = ("REPORTED", "ACCEPTED", "ESCALATED", "ASSIGNED", "RESOLVED", "VERIFIED", "REOPENED")
CASES_SHOWN = 50
DUE_SHOWN = 20
KPI_FIELDS = ("visits", "visitCoverage", "groupAppealHandlingRate", "workSatisfactionRate")
PERCENT_KPIS = frozenset(KPI_FIELDS[1:])

DUE = """
query DueVisits($grid: ID!, $first: Int!) {
  householdsDueVisit(grid: $grid, first: $first) {
    gridCode visitsThisYear lastVisitedOn household { id number address }
  }
}
"""
CASES = """
query MyCases($open: CaseFilter, $overdue: CaseFilter, $first: Int!) {
  overdue: cases(filter: $overdue, first: $first) { totalCount ...Shown }
  open: cases(filter: $open, first: $first) { totalCount ...Shown }
}
fragment Shown on CaseConnection {
  edges { node { id state category subtype description location dueAt overdue reportedAt
    grid { code name } holdingGrid { code name } } }
}
"""
PATROLS = """
query Unpatrolled($grid: ID!, $day: Date) {
  gridsWithoutPatrol(grid: $grid, day: $day) { code name }
}
"""
KPIS = """
query MyKpis($grid: ID!, $month: String!) {
  kpis(grid: $grid, period: {month: $month}) {
    start end
    visits { numerator denominator value }
    visitCoverage { numerator denominator value }
    groupAppealHandlingRate { numerator denominator value }
    workSatisfactionRate { numerator denominator value }
  }
}
"""


@dataclass
class GridWork:
    """What the page shows of governance; None for a part not asked for (no scope)."""

    due: list[dict[str, Any]] | None = None
    cases: list[dict[str, Any]] | None = None
    cases_total: int = 0
    cases_overdue: int = 0
    unpatrolled: list[dict[str, Any]] | None = None
    kpis: list[dict[str, Any]] | None = None
    month: str = ""
    today: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return any(part is not None for part in (self.due, self.cases, self.unpatrolled, self.kpis))


def due_by(today: date) -> str:
    """`householdsDueVisit` lists households visited fewer than twice this calendar year:
    each is due by the year's last day."""
    return date(today.year, 12, 31).isoformat()


def overdue_first(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overdue cases first, then by deadline (soonest first, none last), then newest."""
    nodes = [edge.get("node") or {} for edge in edges]
    return sorted(
        nodes, key=lambda n: (not n.get("overdue"), n.get("dueAt") is None, n.get("dueAt") or "")
    )


def cases_shown(
    overdue: dict[str, Any] | None, open_: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The page's case list: every overdue case the overdue page holds, then the other open
    cases, at most CASES_SHOWN. Overdue cases are asked for on their own, so one older than
    the first page of open cases is still shown first."""
    edges = [*((overdue or {}).get("edges") or []), *((open_ or {}).get("edges") or [])]
    unique = {str((edge.get("node") or {}).get("id")): edge for edge in edges}
    return overdue_first(list(unique.values()))[:CASES_SHOWN]


def kpi_row(name: str, entry: dict[str, Any] | None) -> dict[str, Any]:
    value = (entry or {}).get("value")
    if value is None:
        shown = "—"
    elif name in PERCENT_KPIS:
        shown = f"{float(value) * 100:.0f}%"
    else:
        shown = f"{float(value):g}"
    detail = ""
    if entry and name in PERCENT_KPIS and entry.get("denominator"):
        detail = f"{entry.get('numerator')}/{entry.get('denominator')}"
    return {"name": name, "value": shown, "detail": detail}


class GridWorkLoader:
    def __init__(self, graphql: ConsoleGraphQL, purpose: str) -> None:
        self.graphql = graphql
        self.purpose = purpose

    async def _ask(
        self, request: Request, console: ConsoleContext, query: str, variables: dict[str, Any]
    ) -> GraphQLResult:
        return await self.graphql.execute(request, console, query, variables, purpose=self.purpose)

    async def load(self, request: Request, console: ConsoleContext, grid: str) -> GridWork:
        now = datetime.now(CHINA)
        work = GridWork(month=now.strftime("%Y-%m"), today=now.date().isoformat())
        scopes = console.scopes
        if "visits:write" in scopes:
            result = await self._ask(request, console, DUE, {"grid": grid, "first": DUE_SHOWN})
            rows = (result.data or {}).get("householdsDueVisit")
            work.due = [{**row, "dueBy": due_by(now.date())} for row in rows or []]
            if rows is None:
                work.errors["due"] = result.first_message() or "—"
        if "cases:read" in scopes:
            open_cases = {"grid": grid, "states": list(OPEN_STATES)}
            variables = {
                "open": open_cases,
                "overdue": {**open_cases, "overdue": True},
                "first": CASES_SHOWN,
            }
            result = await self._ask(request, console, CASES, variables)
            overdue, page = ((result.data or {}).get(part) for part in ("overdue", "open"))
            work.cases = cases_shown(overdue, page)
            work.cases_total = int((page or {}).get("totalCount") or 0)
            work.cases_overdue = int((overdue or {}).get("totalCount") or 0)
            if page is None or overdue is None:
                work.errors["cases"] = result.first_message() or "—"
        if "kpi:read" in scopes:
            result = await self._ask(request, console, PATROLS, {"grid": grid, "day": work.today})
            grids = (result.data or {}).get("gridsWithoutPatrol")
            work.unpatrolled = list(grids or [])
            if grids is None:
                work.errors["patrols"] = result.first_message() or "—"
            result = await self._ask(request, console, KPIS, {"grid": grid, "month": work.month})
            kpis = (result.data or {}).get("kpis")
            work.kpis = (
                [kpi_row(name, (kpis or {}).get(name)) for name in KPI_FIELDS] if kpis else []
            )
            if kpis is None:
                work.errors["kpis"] = result.first_message() or "—"
        return work
