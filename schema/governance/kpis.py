"""KPIs per grid and period, rolled up the tree and ranked among siblings (kpi:read).

Each KPI field's description is the KPI's definition exactly as `hub/governance/kpis.py`
computes it (the same text, taken from the declaration). A grid's figures cover its whole
subtree; a rate is the ratio of the summed numerator and denominator, never an average.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import strawberry
from strawberry import federation
from strawberry.federation.schema_directives import Cost

from hub.governance import scoreboard
from hub.governance.kpis import KPI_BY_NAME
from hub.governance.rollup import TreeGrid
from hub.storage.base import utcnow
from schema.context import Info
from schema.governance.common import KPI_READ, PeriodInput, actor_of, check_key, in_transaction
from schema.governance.enums import KpiName
from schema.grid import Grid


@strawberry.type(
    description="One KPI's figures for one grid's subtree and period.",
    # Computed with its grid's node, like a scalar: it adds nothing to what a query costs.
    directives=[Cost(weight=0)],
)
class KpiValue:
    numerator: int
    denominator: int = strawberry.field(description="0 for counts.")
    value: float | None = strawberry.field(
        description="A count: the numerator. A rate: numerator ÷ denominator; null when 0 ÷ 0."
    )

    @classmethod
    def of(cls, value: scoreboard.KpiValue) -> KpiValue:
        return cls(numerator=value.numerator, denominator=value.denominator, value=value.value)


def _kpi(name: str) -> Any:
    kpi = KPI_BY_NAME[name]
    kind = "rate" if kpi.rate else "count"
    better = "" if kpi.higher_is_better else " Fewer is better."
    description = f"{kpi.title} ({kind}). {kpi.description}{better}"
    return strawberry.field(default=None, description=description)


def _grid(grid: TreeGrid) -> Grid:
    return Grid(
        code=strawberry.ID(grid.code), name=grid.name, level=grid.level, path=grid.path,
        parent_code=grid.parent_code,
    )  # fmt: skip


@strawberry.type(
    description=(
        "A grid's KPIs for a period, covering its whole subtree (building → community → street "
        "→ district). A KPI not asked for (`names`) is null."
    )
)
class GridKpis:
    grid: Grid
    start: date = strawberry.field(description="The period's first day (China time).")
    end: date = strawberry.field(description="The period's last day.")
    children: list[GridKpis] = strawberry.field(
        description="The grids one level down, with their KPIs for the same period."
    )
    visits: KpiValue | None = _kpi("visits")
    visit_coverage: KpiValue | None = _kpi("visitCoverage")
    patrol_compliance: KpiValue | None = _kpi("patrolCompliance")
    cases_reported: KpiValue | None = _kpi("casesReported")
    cases_solved_in_grid: KpiValue | None = _kpi("casesSolvedInGrid")
    cases_escalated: KpiValue | None = _kpi("casesEscalated")
    cases_overdue: KpiValue | None = _kpi("casesOverdue")
    group_appeal_handling_rate: KpiValue | None = _kpi("groupAppealHandlingRate")
    work_satisfaction_rate: KpiValue | None = _kpi("workSatisfactionRate")
    appeal_satisfaction_rate: KpiValue | None = _kpi("appealSatisfactionRate")
    petitions_beyond_district: KpiValue | None = _kpi("petitionsBeyondDistrict")
    mass_incidents: KpiValue | None = _kpi("massIncidents")


ATTRIBUTE_OF = {
    "visits": "visits",
    "visitCoverage": "visit_coverage",
    "patrolCompliance": "patrol_compliance",
    "casesReported": "cases_reported",
    "casesSolvedInGrid": "cases_solved_in_grid",
    "casesEscalated": "cases_escalated",
    "casesOverdue": "cases_overdue",
    "groupAppealHandlingRate": "group_appeal_handling_rate",
    "workSatisfactionRate": "work_satisfaction_rate",
    "appealSatisfactionRate": "appeal_satisfaction_rate",
    "petitionsBeyondDistrict": "petitions_beyond_district",
    "massIncidents": "mass_incidents",
}
"""KPI name → GridKpis attribute (every declared KPI has one; a test holds them equal)."""


def tree_of(every: dict[str, scoreboard.GridKpis], root: str, start: date, end: date) -> GridKpis:
    """The root's GridKpis with its children (and theirs), built once for the whole subtree."""
    built = {
        code: GridKpis(grid=_grid(entry.grid), start=start, end=end, children=[])
        for code, entry in every.items()
    }
    for code, entry in every.items():
        node = built[code]
        for name, value in entry.values.items():
            setattr(node, ATTRIBUTE_OF[name], KpiValue.of(value))
        parent = entry.grid.parent_code
        if parent is not None and parent in built and code != root:
            built[parent].children.append(node)
    for node in built.values():
        node.children.sort(key=lambda child: str(child.grid.code))
    return built[root]


@strawberry.type(description="A grid's place among its siblings on one KPI (1 is best).")
class RankedGrid:
    rank: int = strawberry.field(
        description="Competition ranking: 1, 2, 2, 4 …; grids without a value come last."
    )
    grid: Grid
    value: KpiValue


def _names(names: Sequence[KpiName] | None) -> list[str] | None:
    return None if names is None else [name.value for name in dict.fromkeys(names)]


@strawberry.type
class KpiQuery:
    @federation.field(
        requires_scopes=KPI_READ,
        description=(
            "A grid's KPIs for a period, rolled up its subtree, with its children's (grid-scoped "
            "callers: grids of their subtree). Aggregates only: no resident data."
        ),
    )
    async def kpis(
        self,
        info: Info,
        grid: strawberry.ID,
        period: PeriodInput,
        names: list[KpiName] | None = None,
    ) -> GridKpis | None:
        actor, code, span = actor_of(info), check_key(str(grid), "grid"), period.to_period()
        async with in_transaction(info) as session:
            every = await scoreboard.subtree_kpis(
                session, actor=actor, grid_code=code, period=span, now=utcnow(),
                names=_names(names),
            )  # fmt: skip
        return tree_of(every, code, span.start, span.end)

    @federation.field(
        requires_scopes=KPI_READ,
        description=(
            "The children of a grid ranked on one KPI for a period, best first (for "
            "casesEscalated, casesOverdue, petitionsBeyondDistrict and massIncidents fewer "
            "is better)."
        ),
    )
    async def kpi_ranking(
        self, info: Info, grid: strawberry.ID, kpi: KpiName, period: PeriodInput
    ) -> list[RankedGrid] | None:
        actor, code, span = actor_of(info), check_key(str(grid), "grid"), period.to_period()
        async with in_transaction(info) as session:
            ranked = await scoreboard.rank_children(
                session, actor=actor, grid_code=code, kpi=kpi.value, period=span, now=utcnow()
            )
        return [
            RankedGrid(rank=entry.rank, grid=_grid(entry.grid), value=KpiValue.of(entry.value))
            for entry in ranked
        ]
