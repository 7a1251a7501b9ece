"""The grid worker's console: the residents of my grid with their care tags, and my work.

Residents come from `residents(grid:)` (the hub's row scope keeps them to the worker's
subtree). Households due a visit, my cases, unpatrolled grids and a KPI strip come from the
grid-governance API (`hub/consoles/grid_work.py`), each only for a person whose scopes allow it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hub.consoles.graphql import ConsoleGraphQL
from hub.consoles.grid_work import GridWork, GridWorkLoader
from hub.consoles.templating import render

GRID_PURPOSE = "网格日常管理"
TAGS = ("ELDERLY_ALONE", "DISABLED", "LOW_INCOME", "VETERAN", "LEFT_BEHIND_CHILD", "MIGRANT")
TAG_NAMES = {
    "ELDERLY_ALONE": ("独居老人", "Elderly living alone"),
    "DISABLED": ("残疾人", "Disabled"),
    "LOW_INCOME": ("低保/低收入", "Low income"),
    "VETERAN": ("退役军人", "Veteran"),
    "LEFT_BEHIND_CHILD": ("留守儿童", "Left-behind child"),
    "MIGRANT": ("流动人口", "Migrant"),
}
PAGE = 50

RESIDENTS = """
query MyGrid($filter: ResidentFilter, $first: Int!, $after: String) {
  me { subject roles grid { code name path } }
  residents(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { node { id name gender age tags phone household { number address } grid { name } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class GridConsole:
    def __init__(self, graphql: ConsoleGraphQL) -> None:
        self.graphql = graphql
        self.work = GridWorkLoader(graphql, GRID_PURPOSE)

    async def page(self, request: Request) -> Response:
        console = request.state.console
        tag = request.query_params.get("tag", "")
        variables: dict[str, Any] = {
            "filter": {"tag": tag} if tag in TAGS else None,
            "first": PAGE,
            "after": request.query_params.get("after") or None,
        }
        result = await self.graphql.execute(
            request, console, RESIDENTS, variables, purpose=GRID_PURPOSE
        )
        data = result.data or {}
        grid = ((data.get("me") or {}).get("grid") or {}).get("code")
        work = await self.work.load(request, console, str(grid)) if grid else GridWork()
        context = {
            "me": data.get("me"),
            "residents": data.get("residents"),
            "error": result.first_message() if data.get("residents") is None else None,
            "tags": TAGS,
            "tag_names": TAG_NAMES,
            "tag": tag,
            "work": work,
        }
        return render(request, "grid.html", context)
