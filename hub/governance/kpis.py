"""The district's KPIs: each declared once (name, definition, SQL), run for one period.

Each KPI's SQL yields, for every grid, what is attributed to that grid itself — a count, or
a numerator and a denominator — over the facts of one period (civil days in China). The
roll-up (`scoreboard`) then adds each grid's figures to its parent's, building → community → street →
district, so a grid's value covers its whole subtree and a rate is the ratio of the sums,
never an average of ratios. Case KPIs attribute a case to the grid it was reported in.

Parameters every SQL may use: `:start_at`/`:end_at` (the period's first instant and the first
instant after it), `:start_day`/`:end_day` (its first and last day), `:year_start` (1 January
of the last day's year), `:now` and `:last_day` (the period's last day, or today if earlier),
`:days` (days from the first to `:last_day`), and `:lo`/`:hi` (the subtree's path range).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Integer, String, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError
from hub.governance.fieldwork import civil_day
from hub.governance.periods import Period
from hub.storage.base import UtcDateTime


@dataclass(frozen=True, slots=True)
class Kpi:
    name: str
    title: str  # the district's own name for it
    description: str  # the definition, exactly as the SQL computes it
    sql: str  # grid_code, numerator, denominator (0 for counts) per grid itself
    rate: bool = False
    higher_is_better: bool = True


_IN_SUBTREE = "{alias}.grid_path >= :lo AND {alias}.grid_path < :hi"

KPIS: tuple[Kpi, ...] = (
    Kpi(
        name="visits",
        title="入户走访次数",
        description=(
            "Home visits made in the period: visits whose day (China time) falls in the period, "
            "counted in the household's building grid."
        ),
        sql=f"""
            SELECT v.grid_code, COUNT(*) AS numerator, 0 AS denominator
            FROM visits v
            WHERE v.visited_on >= :start_day AND v.visited_on <= :end_day
              AND {_IN_SUBTREE.format(alias="v")}
            GROUP BY v.grid_code""",
    ),
    Kpi(
        name="visitCoverage",
        title="入户走访覆盖率",
        description=(
            "Households visited at least twice in the calendar year, from 1 January up to the "
            "period's last day, divided by the households registered in the grid."
        ),
        sql="""
            SELECT h.grid_code,
                   SUM(CASE WHEN COALESCE(n.visits, 0) >= 2 THEN 1 ELSE 0 END) AS numerator,
                   COUNT(*) AS denominator
            FROM households h
            JOIN grids g ON g.code = h.grid_code
            LEFT JOIN (
                SELECT household_id, COUNT(*) AS visits
                FROM visits
                WHERE visited_on >= :year_start AND visited_on <= :end_day
                GROUP BY household_id
            ) n ON n.household_id = h.id
            WHERE g.path >= :lo AND g.path < :hi
            GROUP BY h.grid_code""",
        rate=True,
    ),
    Kpi(
        name="patrolCompliance",
        title="日常巡查率",
        description=(
            "Building-grid days with at least one patrol divided by building-grid days, over the "
            "period's days up to today: every building grid is to be walked every day."
        ),
        sql="""
            SELECT g.code AS grid_code, COUNT(DISTINCT p.day) AS numerator,
                   CAST(:days AS INTEGER) AS denominator
            FROM grids g
            LEFT JOIN patrols p
              ON p.grid_code = g.code AND p.day >= :start_day AND p.day <= :last_day
            WHERE g.level = 'BUILDING' AND g.path >= :lo AND g.path < :hi
            GROUP BY g.code""",
        rate=True,
    ),
    Kpi(
        name="casesReported",
        title="事件上报数",
        description="Cases reported in the period, counted in the grid they were reported in.",
        sql=f"""
            SELECT c.grid_code, COUNT(*) AS numerator, 0 AS denominator
            FROM cases c
            WHERE c.reported_at >= :start_at AND c.reported_at < :end_at
              AND {_IN_SUBTREE.format(alias="c")}
            GROUP BY c.grid_code""",
    ),
    Kpi(
        name="casesSolvedInGrid",
        title="就地化解数",
        description=(
            "Cases resolved in the period by the very grid they were reported in (held there, "
            "never escalated before that resolution); each case counted once."
        ),
        sql=f"""
            SELECT c.grid_code, COUNT(DISTINCT c.id) AS numerator, 0 AS denominator
            FROM case_traces t
            JOIN cases c ON c.id = t.case_id
            WHERE t.action = 'RESOLVE' AND t.holding_grid_code = c.grid_code
              AND t.at >= :start_at AND t.at < :end_at
              AND {_IN_SUBTREE.format(alias="c")}
            GROUP BY c.grid_code""",
    ),
    Kpi(
        name="casesEscalated",
        title="上报上级数",
        description=(
            "Cases escalated to a parent grid at least once in the period, counted once each "
            "in the grid they were reported in."
        ),
        sql=f"""
            SELECT c.grid_code, COUNT(DISTINCT c.id) AS numerator, 0 AS denominator
            FROM case_traces t
            JOIN cases c ON c.id = t.case_id
            WHERE t.action = 'ESCALATE' AND t.at >= :start_at AND t.at < :end_at
              AND {_IN_SUBTREE.format(alias="c")}
            GROUP BY c.grid_code""",
        higher_is_better=False,
    ),
    Kpi(
        name="casesOverdue",
        title="超期件数",
        description=(
            "Cases that missed a deadline (accept or handle, per level) falling in the period "
            "and already past: the move that answered it came after it, or no move has come and "
            "it passed. Each case counted once, in the grid it was reported in."
        ),
        sql=f"""
            SELECT x.grid_code, COUNT(DISTINCT x.id) AS numerator, 0 AS denominator
            FROM (
                SELECT c.grid_code, c.id
                FROM case_traces t
                JOIN cases c ON c.id = t.case_id
                WHERE t.at > t.prior_due_at
                  AND t.prior_due_at >= :start_at AND t.prior_due_at < :end_at
                  AND t.prior_due_at < :now
                  AND {_IN_SUBTREE.format(alias="c")}
                UNION ALL
                SELECT c.grid_code, c.id
                FROM cases c
                WHERE c.due_at >= :start_at AND c.due_at < :end_at AND c.due_at < :now
                  AND {_IN_SUBTREE.format(alias="c")}
            ) x
            GROUP BY x.grid_code""",
        higher_is_better=False,
    ),
    Kpi(
        name="groupAppealHandlingRate",
        title="群体诉求处置率",
        description=(
            "Group appeals accepted in the period (an ACCEPT move in the period) that were "
            "resolved within deadline — they have a RESOLVE move, at any time up to now, made no "
            "later than the deadline in force when it was made (the one the move before it set) "
            "— divided by those group appeals."
        ),
        sql=f"""
            SELECT x.grid_code, SUM(x.in_time) AS numerator, COUNT(*) AS denominator
            FROM (
                SELECT c.id, c.grid_code,
                    CASE WHEN EXISTS (
                        SELECT 1 FROM case_traces r
                        WHERE r.case_id = c.id AND r.action = 'RESOLVE' AND r.at <= r.prior_due_at
                    ) THEN 1 ELSE 0 END AS in_time
                FROM cases c
                WHERE c.group_appeal AND {_IN_SUBTREE.format(alias="c")}
                  AND EXISTS (
                    SELECT 1 FROM case_traces a
                    WHERE a.case_id = c.id AND a.action = 'ACCEPT'
                      AND a.at >= :start_at AND a.at < :end_at
                  )
            ) x
            GROUP BY x.grid_code""",
        rate=True,
    ),
    Kpi(
        name="workSatisfactionRate",
        title="网格化工作满意率",
        description=(
            "Ratings given when closing cases in the period that are SATISFIED or "
            "BASICALLY_SATISFIED, divided by all ratings given when closing cases in the period."
        ),
        sql=f"""
            SELECT c.grid_code,
                   SUM(CASE WHEN t.satisfaction IN ('SATISFIED', 'BASICALLY_SATISFIED')
                       THEN 1 ELSE 0 END) AS numerator,
                   COUNT(*) AS denominator
            FROM case_traces t
            JOIN cases c ON c.id = t.case_id
            WHERE t.action = 'CLOSE' AND t.at >= :start_at AND t.at < :end_at
              AND {_IN_SUBTREE.format(alias="c")}
            GROUP BY c.grid_code""",
        rate=True,
    ),
    Kpi(
        name="appealSatisfactionRate",
        title="群体诉求处置满意率",
        description=(
            "The same ratio as workSatisfactionRate, over the closings of group appeals only."
        ),
        sql=f"""
            SELECT c.grid_code,
                   SUM(CASE WHEN t.satisfaction IN ('SATISFIED', 'BASICALLY_SATISFIED')
                       THEN 1 ELSE 0 END) AS numerator,
                   COUNT(*) AS denominator
            FROM case_traces t
            JOIN cases c ON c.id = t.case_id
            WHERE c.group_appeal AND t.action = 'CLOSE'
              AND t.at >= :start_at AND t.at < :end_at
              AND {_IN_SUBTREE.format(alias="c")}
            GROUP BY c.grid_code""",
        rate=True,
    ),
    Kpi(
        name="petitionsBeyondDistrict",
        title="越级上访数",
        description=(
            "Cases reported in the period flagged as a petition taken beyond the district "
            "(上访); zero is the target."
        ),
        sql=f"""
            SELECT c.grid_code, COUNT(*) AS numerator, 0 AS denominator
            FROM cases c
            WHERE c.petition_beyond_district
              AND c.reported_at >= :start_at AND c.reported_at < :end_at
              AND {_IN_SUBTREE.format(alias="c")}
            GROUP BY c.grid_code""",
        higher_is_better=False,
    ),
    Kpi(
        name="massIncidents",
        title="群体性事件数",
        description=(
            "Cases reported in the period flagged as a mass incident (群体性事件); zero is the "
            "target."
        ),
        sql=f"""
            SELECT c.grid_code, COUNT(*) AS numerator, 0 AS denominator
            FROM cases c
            WHERE c.mass_incident
              AND c.reported_at >= :start_at AND c.reported_at < :end_at
              AND {_IN_SUBTREE.format(alias="c")}
            GROUP BY c.grid_code""",
        higher_is_better=False,
    ),
)

KPI_BY_NAME = {kpi.name: kpi for kpi in KPIS}

_PARAMETER_TYPES: dict[str, Any] = {
    "start_at": UtcDateTime(),
    "end_at": UtcDateTime(),
    "now": UtcDateTime(),
    "start_day": Date(),
    "end_day": Date(),
    "last_day": Date(),
    "year_start": Date(),
    "days": Integer(),
    "lo": String(),
    "hi": String(),
}
_PARAMETER = re.compile(r"(?<!:):([a-z_]+)")


@dataclass(frozen=True, slots=True)
class Figures:
    """A grid's numerator and denominator for one KPI (the denominator is 0 for counts)."""

    numerator: int = 0
    denominator: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.numerator + other.numerator, self.denominator + other.denominator)


def value_of(kpi: Kpi, figures: Figures) -> float | None:
    """A count's value is its numerator; a rate's is the ratio (None when nothing to divide)."""
    if not kpi.rate:
        return float(figures.numerator)
    if figures.denominator == 0:
        return None
    return figures.numerator / figures.denominator


async def own_figures(
    session: AsyncSession, kpi: Kpi, parameters: dict[str, Any]
) -> dict[str, Figures]:
    """Grid code → the figures attributed to that grid itself (not yet rolled up)."""
    if session.get_bind().dialect.name == "postgresql":
        # asyncpg prepares statements; from the sixth run PostgreSQL may switch to a generic
        # plan, which for the group-appeal KPIs was 500 times slower (20 s instead of 40 ms
        # at 20,000 cases). Plan each run for its own period and subtree.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    names = set(_PARAMETER.findall(kpi.sql))
    statement = text(kpi.sql).bindparams(
        *(bindparam(name, parameters[name], type_=_PARAMETER_TYPES[name]) for name in names)
    )
    rows = await session.execute(statement)
    return {code: Figures(int(num or 0), int(den or 0)) for code, num, den in rows}


def query_parameters(period: Period, *, now: datetime) -> dict[str, Any]:
    """The SQL parameters for `period` seen at `now` (days after today are not yet due)."""
    last_day = min(period.end, civil_day(now))
    return {
        "start_at": period.start_at,
        "end_at": period.end_at,
        "start_day": period.start,
        "end_day": period.end,
        "last_day": last_day,
        "days": max(0, (last_day - period.start).days + 1),
        "year_start": date(period.end.year, 1, 1),
        "now": now,
    }


def kpi_named(name: str) -> Kpi:
    try:
        return KPI_BY_NAME[name]
    except KeyError:
        known = ", ".join(KPI_BY_NAME)
        raise BadInputError(f"unknown KPI {name!r}; known: {known}", field="kpi") from None
