"""The case state machine as a table: every legal move, every illegal one, and the drawn table."""

from __future__ import annotations

import re

import pytest

from hub.errors import ErrorCode, InvalidTransitionError
from hub.governance import states
from hub.governance.enums import CaseAction, CaseState
from hub.governance.states import TRANSITIONS, Party, allowed_actions, transition
from hub.vocabulary import GridLevel

LEGAL = [
    (state, action, level)
    for (state, action), rule in TRANSITIONS.items()
    for level in GridLevel
    if level in rule.levels
]
ILLEGAL = [
    (state, action, level)
    for state in CaseState
    for action in CaseAction
    for level in GridLevel
    if (state, action, level) not in set(LEGAL)
]


@pytest.mark.parametrize(
    ("state", "action", "level"), LEGAL, ids=[f"{s}-{a}-{lv}" for s, a, lv in LEGAL]
)
def test_a_legal_move_leads_to_the_state_in_the_table(
    state: CaseState, action: CaseAction, level: GridLevel
) -> None:
    rule = transition(state, action, held_at=level)

    assert rule is TRANSITIONS[(state, action)]
    assert action in allowed_actions(state, level)


@pytest.mark.parametrize(
    ("state", "action", "level"), ILLEGAL, ids=[f"{s}-{a}-{lv}" for s, a, lv in ILLEGAL]
)
def test_an_illegal_move_is_bad_input_naming_the_state_and_the_allowed_moves(
    state: CaseState, action: CaseAction, level: GridLevel
) -> None:
    with pytest.raises(InvalidTransitionError) as raised:
        transition(state, action, held_at=level)

    error = raised.value
    allowed = allowed_actions(state, level)
    assert error.code is ErrorCode.BAD_USER_INPUT
    assert f"state {state}" in error.message
    assert f"cannot {action}" in error.message
    assert error.message.endswith("allowed moves: " + (", ".join(allowed) or "none"))
    assert error.details == {"state": state, "action": action, "allowed": allowed}


def test_the_table_covers_the_life_cycle_of_the_contract() -> None:
    reachable = {CaseState.REPORTED}
    frontier = [CaseState.REPORTED]
    while frontier:
        state = frontier.pop()
        for (source, _), rule in TRANSITIONS.items():
            if source is state and rule.next_state not in reachable:
                reachable.add(rule.next_state)
                frontier.append(rule.next_state)
    assert reachable == set(CaseState)
    assert allowed_actions(CaseState.ACCEPTED, GridLevel.DISTRICT) == [
        CaseAction.RESOLVE,
        CaseAction.ASSIGN,
    ]
    assert allowed_actions(CaseState.ACCEPTED, GridLevel.BUILDING) == [
        CaseAction.RESOLVE,
        CaseAction.ESCALATE,
    ]
    assert allowed_actions(CaseState.CLOSED, GridLevel.STREET) == [CaseAction.REOPEN]


_PARTY_WORDS = {
    "the holding grid": Party.HOLDING_GRID,
    "the reporting grid": Party.REPORTING_GRID,
    "dispatcher": Party.DISPATCHER,
    "an assigned department": Party.ASSIGNED_DEPARTMENT,
}
_LEVEL_WORDS = {
    "any level": states.ANY_LEVEL,
    "below the district": states.BELOW_DISTRICT,
    "the district": states.DISTRICT_ONLY,
}


def _drawn_rows() -> dict[tuple[CaseState, CaseAction], tuple[CaseState, str, str]]:
    assert states.__doc__ is not None
    rows: dict[tuple[CaseState, CaseAction], tuple[CaseState, str, str]] = {}
    pattern = re.compile(r"^\s+([A-Z]+)\s+([A-Z]+)\s+→ ([A-Z]+)\s+(.+?)\s{2,}(.+)$")
    last: tuple[CaseState, CaseAction] | None = None
    for line in states.__doc__.splitlines():
        match = pattern.match(line)
        if match:
            state, action, target, who, where = match.groups()
            last = (CaseState(state), CaseAction(action))
            rows[last] = (CaseState(target), who, where)
        elif last is not None and line.strip() and line.startswith(" " * 38):
            target, who, where = rows[last]
            rows[last] = (target, f"{who} {line.strip()}", where)
    return rows


def test_the_table_drawn_in_the_docstring_is_the_table_the_code_reads() -> None:
    drawn = _drawn_rows()

    assert set(drawn) == set(TRANSITIONS)
    for key, (target, who, where) in drawn.items():
        rule = TRANSITIONS[key]
        assert target is rule.next_state, key
        named = re.sub(r"\(.*?\)", "", who)  # "(dispatcher)" only says who holds the district
        parties = {party for words, party in _PARTY_WORDS.items() if words in named}
        assert parties == set(rule.parties), key
        level = next(levels for words, levels in _LEVEL_WORDS.items() if where.startswith(words))
        assert level == rule.levels, key
