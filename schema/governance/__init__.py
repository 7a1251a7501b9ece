"""Grid governance in GraphQL: cases, visits, patrols, joint meetings, KPIs, ledgers, events.

One line per part below; `schema/build.py` merges these roots into the unified schema's and
the core subgraph's Query, Mutation and Subscription. The behaviour is `hub/governance/`'s:
resolvers read arguments, call a service, and convert what it returns.
"""

from __future__ import annotations

from strawberry.tools import merge_types

from schema.governance.case_queries import CaseQuery
from schema.governance.kpis import KpiQuery
from schema.governance.ledgers import LedgerQuery
from schema.governance.meetings import MeetingMutation
from schema.governance.moves import CaseMutation
from schema.governance.patrols import PatrolMutation, PatrolQuery
from schema.governance.subscriptions import CaseSubscription
from schema.governance.visits import VisitMutation, VisitQuery

GovernanceQuery = merge_types(
    "GovernanceQuery", (CaseQuery, VisitQuery, PatrolQuery, LedgerQuery, KpiQuery)
)
GovernanceMutation = merge_types(
    "GovernanceMutation", (CaseMutation, VisitMutation, PatrolMutation, MeetingMutation)
)
GovernanceSubscription = merge_types("GovernanceSubscription", (CaseSubscription,))

__all__ = ["GovernanceMutation", "GovernanceQuery", "GovernanceSubscription"]
