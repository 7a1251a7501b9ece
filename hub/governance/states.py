"""The case life cycle: one transition table (state × action → next state, who may act, where).

A case is created REPORTED (`reportCase`); from then on every move is a row of `TRANSITIONS`,
read by `transition()` alone::

    state      action    → next       who may act                      held at
    ─────────  ────────    ─────────  ───────────────────────────────  ───────────────────────
    REPORTED   ACCEPT    → ACCEPTED   the holding grid                 any level
    ACCEPTED   RESOLVE   → RESOLVED   the holding grid                 any level
    ACCEPTED   ESCALATE  → ESCALATED  the holding grid                 below the district
    ACCEPTED   ASSIGN    → ASSIGNED   the holding grid (dispatcher)    the district
    ESCALATED  ACCEPT    → ACCEPTED   the holding grid (the parent)    any level
    ESCALATED  ASSIGN    → ASSIGNED   the holding grid (dispatcher)    the district
    ASSIGNED   ASSIGN    → ASSIGNED   the holding grid (dispatcher)    the district
    ASSIGNED   RESOLVE   → RESOLVED   an assigned department,          the district
                                      the holding grid (dispatcher)
    RESOLVED   VERIFY    → VERIFIED   the reporting grid               any level
    VERIFIED   CLOSE     → CLOSED     the reporting grid               any level
    VERIFIED   REOPEN    → REOPENED   the reporting grid, dispatcher   any level (within window)
    CLOSED     REOPEN    → REOPENED   the reporting grid, dispatcher   any level (within window)
    REOPENED   ACCEPT    → ACCEPTED   the holding grid                 any level

Escalating moves the holding grid to its parent (building → community → street → district);
at the district the dispatcher assigns the case to departments instead. A reopened case goes
back to the grid that held it when it was resolved. The reopen window is a deadline
(`deadlines.toml`), checked by the case service; who each party is, by `permissions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.errors import InvalidTransitionError
from hub.governance.enums import CaseAction, CaseState
from hub.vocabulary import GridLevel


class Party(StrEnum):
    """Who stands in which relation to a case (decided by `permissions.parties`)."""

    HOLDING_GRID = "HOLDING_GRID"  # acts for the grid holding the case (the dispatcher: district)
    REPORTING_GRID = "REPORTING_GRID"  # acts for the grid the case was reported in
    DISPATCHER = "DISPATCHER"  # the district's grid information centre
    ASSIGNED_DEPARTMENT = "ASSIGNED_DEPARTMENT"  # an officer of a department the case went to


ANY_LEVEL = frozenset(GridLevel)
DISTRICT_ONLY = frozenset({GridLevel.DISTRICT})
BELOW_DISTRICT = ANY_LEVEL - DISTRICT_ONLY


@dataclass(frozen=True, slots=True)
class Rule:
    """One legal move: where it leads, who may make it, at which levels of the holding grid."""

    next_state: CaseState
    parties: frozenset[Party]
    levels: frozenset[GridLevel] = ANY_LEVEL


_S, _A, _P = CaseState, CaseAction, Party
_HOLDING = frozenset({_P.HOLDING_GRID})
_REPORTING = frozenset({_P.REPORTING_GRID})
_REOPENERS = frozenset({_P.REPORTING_GRID, _P.DISPATCHER})

TRANSITIONS: dict[tuple[CaseState, CaseAction], Rule] = {
    (_S.REPORTED, _A.ACCEPT): Rule(_S.ACCEPTED, _HOLDING),
    (_S.ACCEPTED, _A.RESOLVE): Rule(_S.RESOLVED, _HOLDING),
    (_S.ACCEPTED, _A.ESCALATE): Rule(_S.ESCALATED, _HOLDING, BELOW_DISTRICT),
    (_S.ACCEPTED, _A.ASSIGN): Rule(_S.ASSIGNED, _HOLDING, DISTRICT_ONLY),
    (_S.ESCALATED, _A.ACCEPT): Rule(_S.ACCEPTED, _HOLDING),
    (_S.ESCALATED, _A.ASSIGN): Rule(_S.ASSIGNED, _HOLDING, DISTRICT_ONLY),
    (_S.ASSIGNED, _A.ASSIGN): Rule(_S.ASSIGNED, _HOLDING, DISTRICT_ONLY),
    (_S.ASSIGNED, _A.RESOLVE): Rule(
        _S.RESOLVED, frozenset({_P.ASSIGNED_DEPARTMENT, _P.HOLDING_GRID}), DISTRICT_ONLY
    ),
    (_S.RESOLVED, _A.VERIFY): Rule(_S.VERIFIED, _REPORTING),
    (_S.VERIFIED, _A.CLOSE): Rule(_S.CLOSED, _REPORTING),
    (_S.VERIFIED, _A.REOPEN): Rule(_S.REOPENED, _REOPENERS),
    (_S.CLOSED, _A.REOPEN): Rule(_S.REOPENED, _REOPENERS),
    (_S.REOPENED, _A.ACCEPT): Rule(_S.ACCEPTED, _HOLDING),
}

INITIAL_STATE = CaseState.REPORTED

AWAITING_ACCEPTANCE = frozenset({CaseState.REPORTED, CaseState.ESCALATED, CaseState.REOPENED})
"""States whose deadline is the holding level's acceptance deadline."""
IN_HANDLING = frozenset({CaseState.ACCEPTED, CaseState.ASSIGNED})
"""States whose deadline is the holding level's handling deadline."""
OPEN_STATES = AWAITING_ACCEPTANCE | IN_HANDLING
"""States in which a case can be overdue."""


def allowed_actions(state: CaseState, held_at: GridLevel) -> list[CaseAction]:
    """The actions the table allows from `state` for a case held at level `held_at`."""
    return [
        action
        for (from_state, action), rule in TRANSITIONS.items()
        if from_state is state and held_at in rule.levels
    ]


def transition(state: CaseState, action: CaseAction, *, held_at: GridLevel) -> Rule:
    """The rule for `action` from `state`; an illegal move names the state and the legal ones."""
    rule = TRANSITIONS.get((state, action))
    if rule is not None and held_at in rule.levels:
        return rule
    allowed = allowed_actions(state, held_at)
    moves = ", ".join(allowed) if allowed else "none"
    where = f" held by a {held_at.lower()} grid" if rule is not None else ""
    raise InvalidTransitionError(
        f"a case in state {state}{where} cannot {action}; allowed moves: {moves}",
        state=str(state),
        action=str(action),
        allowed=[str(move) for move in allowed],
    )
