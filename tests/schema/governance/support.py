"""Governance through GraphQL: callers of every role (real tokens), the documents they send.

`Staff` registers one OAuth client per name on first use, with the role and grid of
`STAFF`, and posts GraphQL for it (with a purpose: case data is resident data). The
documents select the same fields whatever the mutation, so tests can compare outcomes.
`outcome(result, field)` reduces a response to OK or the error code the field got (a null
case without an error is NOT_FOUND: it does not exist for that caller).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.conftest import Clients, GraphQLClient
from tests.governance.conftest import BUILDING, COMMUNITY, NEIGHBOUR, OTHER_STREET, STREET

# name → (role, grid)
STAFF: dict[str, tuple[str, str | None]] = {
    "building": ("grid_worker", BUILDING),
    "neighbour": ("grid_worker", NEIGHBOUR),
    "community": ("grid_worker", COMMUNITY),
    "street": ("grid_worker", STREET),
    "clerk": ("service_center_clerk", STREET),
    "far_clerk": ("service_center_clerk", OTHER_STREET),
    "dispatcher": ("district_dispatcher", None),
    "health": ("health_officer", None),
    "police": ("police_officer", None),
    "auditor": ("auditor", None),
    "admin": ("admin", None),
}
OK, NO, NF, BAD, CONFLICT = "OK", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT"

CASE_FIELDS = """
  id version state category subtype groupAppeal overdue dueAt reportedBy source
  grid { code } holdingGrid { code level } holdingLevel allowedActions satisfaction
  history { seq action fromState toState actorRole actorGridCode actorDepartment note late }
  assignments { kind department member { name post } traceSeq }
"""

MOVE_ARGUMENTS = "$id: ID!, $version: Int!, $key: String!, $note: String"
MOVES = {
    verb: f"""
mutation {verb.title()}({MOVE_ARGUMENTS}{extra_parameters}) {{
  {verb}Case(id: $id, expectedVersion: $version, idempotencyKey: $key, note: $note{extra}) {{
    {CASE_FIELDS}
  }}
}}"""
    for verb, extra_parameters, extra in [
        ("accept", "", ""),
        ("escalate", "", ""),
        ("assign", ", $departments: [Department!]!", ", departments: $departments"),
        ("resolve", "", ""),
        ("verify", "", ""),
        ("close", ", $satisfaction: Satisfaction!", ", satisfaction: $satisfaction"),
        ("reopen", "", ""),
    ]
}

REPORT = f"""
mutation Report($key: String!, $grid: ID!, $case: CaseDraftInput!) {{
  reportCase(idempotencyKey: $key, grid: $grid, case: $case) {{ {CASE_FIELDS} }}
}}"""

CASE = f"""
query Case($id: ID!) {{ case(id: $id) {{ {CASE_FIELDS} }} }}
"""

VISIT = """
mutation Visit($key: String!, $household: ID!, $at: DateTime!, $residents: [ID!],
               $followUp: CaseDraftInput) {
  recordVisit(idempotencyKey: $key, household: $household, visitedAt: $at,
              residentIds: $residents, findings: "独居老人，身体尚可", followUp: $followUp) {
    id visitedOn findings household { number } grid { code }
    residentsMet { id name } followUpCase { id state source }
  }
}"""

PATROL = """
mutation Patrol($key: String!, $grid: ID!, $start: DateTime!, $end: DateTime!,
                $findings: [CaseDraftInput!]) {
  recordPatrol(idempotencyKey: $key, grid: $grid, startedAt: $start, endedAt: $end,
               routeNotes: "东门到西门", findings: $findings) {
    id day grid { code } findings { id state source grid { code } }
  }
}"""

MEETING = """
mutation Meeting($key: String!, $grid: ID!, $at: DateTime!, $settled: [ID!],
                 $participants: [ParticipantInput!]!) {
  recordJointMeeting(idempotencyKey: $key, grid: $grid, heldAt: $at, topic: "停电",
                     decisions: "供电所三日内抢修", participants: $participants,
                     settledCaseIds: $settled) {
    id heldOn topic grid { code } participants { kind gridCode department unitName }
    settledCases { id state }
  }
}"""

PARTICIPANTS = [
    {"kind": "GRID", "gridCode": COMMUNITY},
    {"kind": "OUTSIDE_UNIT", "unitName": "供电所"},
    {"kind": "DEPARTMENT", "department": "POLICE"},
]


def draft(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "category": "WORK_SAFETY",
        "subtype": "EBIKE_CHARGING",
        "description": "楼道内电动车飞线充电",
    }
    values.update(overrides)
    return values


def outcome(result: dict[str, Any], field_name: str) -> str:
    """OK, or the code of the first error (a null object without one: NOT_FOUND)."""
    errors = result.get("errors") or []
    if errors:
        return str(errors[0]["extensions"]["code"])
    data = result.get("data") or {}
    return OK if data.get(field_name) is not None else NF


@dataclass
class Staff:
    """One GraphQL client per staff name, registered on first use."""

    clients: Clients
    _made: dict[str, GraphQLClient] = field(default_factory=dict)
    keys: int = 0

    async def __call__(self, name: str) -> GraphQLClient:
        if name not in self._made:
            role, grid = STAFF[name]
            self._made[name] = await self.clients.graphql(role, grid=grid)
        return self._made[name]

    def key(self) -> str:
        self.keys += 1
        return f"graphql-key-{self.keys}"

    async def move(
        self, name: str, verb: str, case: dict[str, Any], **variables: Any
    ) -> dict[str, Any]:
        """`verb` the case as `name`, at the version given; the raw response."""
        gql = await self(name)
        arguments = {"id": case["id"], "version": case["version"], "key": self.key(), **variables}
        return await gql(MOVES[verb], arguments)

    async def report(self, name: str, grid: str = BUILDING, **overrides: Any) -> dict[str, Any]:
        gql = await self(name)
        variables = {"key": self.key(), "grid": grid, "case": draft(**overrides)}
        return await gql(REPORT, variables)
