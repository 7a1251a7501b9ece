"""Who may do what in grid governance — the one place that decides it.

An `Actor` is the caller seen by this domain: a grid worker or clerk acting for the grid in
its token (its subtree is what it may read and report in), the district dispatcher (acts for
the district grid, reads everything), a department officer (reads and resolves only the cases
assigned to its department) or an observer (KPIs only: auditors, admins). The department of an
officer is derived from its role here and nowhere else (`DEPARTMENT_OF_ROLE`).

Reads outside the actor's reach raise `NotFoundError` (the case does not exist for it); a
visible case it may not act on raises `PermissionDeniedError`, naming who may.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy import ColumnElement, exists, false, select, true

from hub.errors import NotFoundError, PermissionDeniedError
from hub.governance.enums import CaseAction
from hub.governance.states import Party, Rule
from hub.storage.grids import in_subtree
from hub.storage.models import Case, CaseAssignment
from hub.vocabulary import Department

CASES_READ = "cases:read"
CASES_WRITE = "cases:write"
VISITS_WRITE = "visits:write"
KPI_READ = "kpi:read"

DEPARTMENT_OF_ROLE: dict[str, Department] = {
    "health_officer": Department.HEALTH,
    "social_officer": Department.SOCIAL_SECURITY,
    "education_officer": Department.EDUCATION,
    "police_officer": Department.POLICE,
}
DISPATCHER_ROLES = frozenset({"district_dispatcher"})


class ActorKind(StrEnum):
    GRID = "GRID"  # acts for the grid in its token, reaches that grid's subtree
    DISPATCHER = "DISPATCHER"  # acts for the district grid, reaches every case
    DEPARTMENT = "DEPARTMENT"  # reaches the cases assigned to its department
    OBSERVER = "OBSERVER"  # no case work (KPIs at most)


class CallerLike(Protocol):
    """What the domain needs of the authenticated caller (hub.auth.caller.Caller fits)."""

    @property
    def client_id(self) -> str | None: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def roles(self) -> tuple[str, ...]: ...
    @property
    def scopes(self) -> frozenset[str]: ...
    @property
    def grid_code(self) -> str | None: ...
    @property
    def grid_path(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Actor:
    principal: str
    role: str
    kind: ActorKind
    scopes: frozenset[str]
    grid_code: str | None = None
    grid_path: str | None = None
    department: Department | None = None

    def acts_for(self, grid_code: str, grid_path: str) -> bool:
        """Whether the actor works at that very grid (the dispatcher: the district root)."""
        if self.kind is ActorKind.DISPATCHER:
            return grid_path.count("/") == 1
        return self.kind is ActorKind.GRID and self.grid_code == grid_code

    def reaches(self, grid_path: str) -> bool:
        """Whether the grid lies in the actor's subtree (the dispatcher's is the district)."""
        if self.kind is ActorKind.DISPATCHER:
            return True
        return (
            self.kind is ActorKind.GRID
            and self.grid_path is not None
            and grid_path.startswith(self.grid_path)
        )


def actor_from_caller(caller: CallerLike) -> Actor:
    """The governance actor for a caller: the first role that does case work decides its kind."""
    subject, client = caller.subject, caller.client_id
    principal = client or subject or "anonymous"
    if subject and client and subject != client:
        principal = f"{client}/{subject}"
    roles = caller.roles or ("",)
    for role in roles:
        if role in DEPARTMENT_OF_ROLE:
            return Actor(
                principal, role, ActorKind.DEPARTMENT, caller.scopes,
                department=DEPARTMENT_OF_ROLE[role],
            )  # fmt: skip
        if role in DISPATCHER_ROLES:
            return Actor(principal, role, ActorKind.DISPATCHER, caller.scopes)
    if caller.grid_path is not None and caller.grid_code is not None:
        return Actor(
            principal, roles[0], ActorKind.GRID, caller.scopes, caller.grid_code, caller.grid_path
        )
    return Actor(principal, roles[0], ActorKind.OBSERVER, caller.scopes)


def require_scope(actor: Actor, scope: str, doing: str) -> None:
    if scope not in actor.scopes:
        raise PermissionDeniedError(
            f"{doing} needs the {scope} scope; ask for a token with it (role {actor.role!r} "
            "may not hold it)",
            scope=scope,
        )


# --- cases -----------------------------------------------------------------------------------


def can_read_case(actor: Actor, case: Case, departments: Collection[Department]) -> bool:
    if CASES_READ not in actor.scopes:
        return False
    if actor.kind is ActorKind.DEPARTMENT:
        return actor.department in departments
    return actor.reaches(case.grid_path)


def require_readable(actor: Actor, case: Case, departments: Collection[Department]) -> None:
    if not can_read_case(actor, case, departments):
        raise NotFoundError(f"no case {case.id!r} within your reach", case_id=case.id)


def readable_cases(actor: Actor) -> ColumnElement[bool]:
    """The same rule as `can_read_case`, as a WHERE clause over `cases`."""
    if CASES_READ not in actor.scopes:
        return false()
    if actor.kind is ActorKind.DEPARTMENT:
        assigned = select(CaseAssignment.case_id).where(
            CaseAssignment.case_id == Case.id, CaseAssignment.department == actor.department
        )
        return exists(assigned)
    if actor.kind is ActorKind.DISPATCHER:
        return true()
    if actor.kind is ActorKind.GRID and actor.grid_path is not None:
        return in_subtree(Case.grid_path, actor.grid_path)
    return false()


def parties(actor: Actor, case: Case, departments: Collection[Department]) -> frozenset[Party]:
    """Every relation the actor has to the case; the transition table says which may act."""
    found: set[Party] = set()
    if actor.acts_for(case.holding_grid_code, case.holding_grid_path):
        found.add(Party.HOLDING_GRID)
    if actor.acts_for(case.grid_code, case.grid_path):
        found.add(Party.REPORTING_GRID)
    if actor.kind is ActorKind.DISPATCHER:
        found.add(Party.DISPATCHER)
    if actor.kind is ActorKind.DEPARTMENT and actor.department in departments:
        found.add(Party.ASSIGNED_DEPARTMENT)
    return frozenset(found)


_WHO = {
    Party.HOLDING_GRID: "the grid holding it ({holding})",
    Party.REPORTING_GRID: "the grid it was reported in ({reporting})",
    Party.DISPATCHER: "the district dispatcher",
    Party.ASSIGNED_DEPARTMENT: "an officer of a department it is assigned to",
}


def require_party(
    actor: Actor,
    case: Case,
    *,
    action: CaseAction,
    rule: Rule,
    departments: Collection[Department],
) -> Party:
    """The party the actor acts as for this move; refuses, naming who may, when it has none."""
    require_scope(actor, CASES_WRITE, f"{action} on a case")
    mine = parties(actor, case, departments) & rule.parties
    if mine:
        return min(mine)  # deterministic when an actor is several parties at once
    who = " or ".join(
        _WHO[party].format(holding=case.holding_grid_code, reporting=case.grid_code)
        for party in sorted(rule.parties)
    )
    raise PermissionDeniedError(
        f"only {who} may {action} case {case.id}", case_id=case.id, action=str(action)
    )


def require_report(actor: Actor, *, grid_code: str, grid_path: str) -> None:
    """Grid workers report in their subtree; the dispatcher anywhere in the district."""
    require_scope(actor, CASES_WRITE, "reporting a case")
    if not actor.reaches(grid_path):
        raise PermissionDeniedError(
            f"grid {grid_code} is outside your grid's subtree; report it in a grid you cover",
            grid_code=grid_code,
        )


# --- field work, meetings, KPIs ---------------------------------------------------------------


def require_field_work(actor: Actor, *, grid_code: str, grid_path: str, doing: str) -> None:
    """Visits and patrols: `visits:write` and the grid in the actor's own subtree."""
    require_scope(actor, VISITS_WRITE, doing)
    if actor.kind is not ActorKind.GRID or not actor.reaches(grid_path):
        raise PermissionDeniedError(
            f"{doing} in grid {grid_code} needs a grid worker of that grid or one above it",
            grid_code=grid_code,
        )


def require_meeting(actor: Actor, *, grid_code: str, grid_path: str) -> None:
    """Joint meetings: convened by a grid in the actor's subtree, or by the dispatcher."""
    require_scope(actor, CASES_WRITE, "recording a joint meeting")
    if not actor.reaches(grid_path):
        raise PermissionDeniedError(
            f"grid {grid_code} is outside your grid's subtree; record meetings your grid convened",
            grid_code=grid_code,
        )


def require_kpi(actor: Actor, *, grid_code: str, grid_path: str) -> None:
    """KPIs are aggregates: grid-scoped actors see their subtree, everyone else the district."""
    require_scope(actor, KPI_READ, "reading KPIs and ledgers")
    if actor.kind is ActorKind.GRID and not actor.reaches(grid_path):
        raise NotFoundError(f"no grid {grid_code!r} within your reach", grid_code=grid_code)
