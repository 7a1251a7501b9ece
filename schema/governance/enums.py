"""Grid governance's code lists as GraphQL enums: the domain's own Python enums, declared once."""

from __future__ import annotations

from enum import Enum

import strawberry

from hub.governance.enums import (
    AssignmentKind,
    CaseAction,
    CaseCategory,
    CaseSource,
    CaseState,
    CaseSubtype,
    ParticipantKind,
    Satisfaction,
)
from hub.governance.events import CaseEventKind
from hub.governance.periods import Granularity

strawberry.enum(CaseState, description="Where a case stands in its life cycle.")
strawberry.enum(CaseAction, description="A move of a case (REPORT creates it).")
strawberry.enum(
    CaseCategory,
    description="The six work areas: 城市管理、综治维稳、安全生产、民生保障、社会服务、党建工作.",
)
strawberry.enum(CaseSubtype, description="A sub-type; each belongs to exactly one category.")
strawberry.enum(Satisfaction, description="The resident's rating: 满意, 基本满意, 不满意.")
strawberry.enum(CaseSource, description="Where a case came from.")
strawberry.enum(AssignmentKind, description="A post on a responsibility board, or a department.")
strawberry.enum(ParticipantKind, description="A member unit of a joint meeting (联席会议).")
strawberry.enum(Granularity, description="Ledger buckets: days, ISO weeks or calendar months.")
strawberry.enum(CaseEventKind, description="What just happened to a case.")


class KpiName(Enum):
    """One member per declared KPI (`hub.governance.kpis.KPIS`), valued by its name."""

    VISITS = "visits"
    VISIT_COVERAGE = "visitCoverage"
    PATROL_COMPLIANCE = "patrolCompliance"
    CASES_REPORTED = "casesReported"
    CASES_SOLVED_IN_GRID = "casesSolvedInGrid"
    CASES_ESCALATED = "casesEscalated"
    CASES_OVERDUE = "casesOverdue"
    GROUP_APPEAL_HANDLING_RATE = "groupAppealHandlingRate"
    WORK_SATISFACTION_RATE = "workSatisfactionRate"
    APPEAL_SATISFACTION_RATE = "appealSatisfactionRate"
    PETITIONS_BEYOND_DISTRICT = "petitionsBeyondDistrict"
    MASS_INCIDENTS = "massIncidents"


strawberry.enum(KpiName, description="A KPI, by the name of its field on GridKpis.")

__all__ = [
    "AssignmentKind",
    "CaseAction",
    "CaseCategory",
    "CaseEventKind",
    "CaseSource",
    "CaseState",
    "CaseSubtype",
    "Granularity",
    "KpiName",
    "ParticipantKind",
    "Satisfaction",
]
