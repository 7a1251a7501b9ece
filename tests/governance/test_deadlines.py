"""Deadlines per level from TOML; overdue derived from them and a controlled clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hub.governance.deadlines import (
    DEFAULT_DEADLINES,
    DeadlinesError,
    default_deadlines,
    is_overdue,
    load_deadlines,
)
from hub.governance.enums import CaseState
from hub.governance.queries import CaseFilter, count_cases, list_cases
from hub.vocabulary import GridLevel
from tests.governance.conftest import BUILDING, T0, Governance, actor

SHIPPED = default_deadlines()


def test_the_shipped_deadlines_tighten_towards_the_grids_closest_to_residents() -> None:
    levels = SHIPPED.levels
    order = [GridLevel.BUILDING, GridLevel.COMMUNITY, GridLevel.STREET, GridLevel.DISTRICT]
    assert [levels[level].accept for level in order] == sorted(levels[lv].accept for lv in order)
    assert levels[GridLevel.BUILDING].accept == timedelta(hours=2)
    assert levels[GridLevel.DISTRICT].handle == timedelta(days=15)
    assert SHIPPED.reopen_window == timedelta(days=30)


@pytest.mark.parametrize(
    ("from_state", "to_state", "expected"),
    [
        (None, CaseState.REPORTED, T0 + timedelta(hours=4)),
        (CaseState.ACCEPTED, CaseState.ESCALATED, T0 + timedelta(hours=4)),
        (CaseState.CLOSED, CaseState.REOPENED, T0 + timedelta(hours=4)),
        (CaseState.REPORTED, CaseState.ACCEPTED, T0 + timedelta(days=5)),
        (CaseState.ESCALATED, CaseState.ASSIGNED, T0 + timedelta(days=5)),
        (CaseState.ACCEPTED, CaseState.ASSIGNED, T0 - timedelta(days=1)),  # keeps running
        (CaseState.ASSIGNED, CaseState.RESOLVED, None),
        (CaseState.RESOLVED, CaseState.VERIFIED, None),
        (CaseState.VERIFIED, CaseState.CLOSED, None),
    ],
)
def test_each_move_sets_the_deadline_of_the_stage_it_leads_to(
    from_state: CaseState | None, to_state: CaseState, expected: datetime | None
) -> None:
    due = SHIPPED.due_after(
        from_state=from_state,
        to_state=to_state,
        level=GridLevel.COMMUNITY,
        at=T0,
        current_due=T0 - timedelta(days=1),
    )

    assert due == expected


def test_overdue_is_strictly_after_the_deadline() -> None:
    assert not is_overdue(None, T0)
    assert not is_overdue(T0, T0)
    assert is_overdue(T0, T0 + timedelta(microseconds=1))


def test_a_deadlines_file_is_checked_naming_the_key_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "deadlines.toml"
    text = DEFAULT_DEADLINES.read_text("utf-8")
    path.write_text(text.replace("handle_within_days = 7", "handle_within_days = -1"), "utf-8")
    with pytest.raises(DeadlinesError, match=r"levels\.STREET\.handle_within_days must be"):
        load_deadlines(path)
    path.write_text(text.replace("[levels.DISTRICT]", "[levels.ELSEWHERE]"), "utf-8")
    with pytest.raises(DeadlinesError, match=r"add a \[levels\.DISTRICT\] table"):
        load_deadlines(path)
    path.write_text("not = toml = at all", "utf-8")
    with pytest.raises(DeadlinesError, match="cannot read deadlines"):
        load_deadlines(path)


def test_configured_deadlines_are_the_ones_cases_get(tmp_path: Path) -> None:
    path = tmp_path / "deadlines.toml"
    text = DEFAULT_DEADLINES.read_text("utf-8")
    path.write_text(text.replace("accept_within_hours = 2", "accept_within_hours = 0.5"), "utf-8")

    due = load_deadlines(path).due_after(
        from_state=None,
        to_state=CaseState.REPORTED,
        level=GridLevel.BUILDING,
        at=T0,
        current_due=None,
    )

    assert due == T0 + timedelta(minutes=30)


async def test_overdue_follows_the_clock_and_is_never_stored(gov: Governance) -> None:
    worker = actor("grid_worker", BUILDING)
    case = await gov.report(worker)
    overdue = CaseFilter(overdue=True)

    async def late_at(moment: datetime) -> list[str]:
        page = await gov.run(
            lambda session: list_cases(session, actor=worker, filters=overdue, now=moment)
        )
        return [found.id for found in page.cases]

    assert await late_at(T0 + timedelta(hours=2)) == []
    assert await late_at(T0 + timedelta(hours=2, seconds=1)) == [case.id]

    gov.tick(hours=3)  # accepted an hour late: now the handling clock runs
    case = await gov.move("accept", worker, case)
    assert await late_at(gov.now) == []
    assert await late_at(gov.now + timedelta(days=3, seconds=1)) == [case.id]
    on_time = CaseFilter(overdue=False)
    assert (
        await gov.run(
            lambda session: count_cases(session, actor=worker, filters=on_time, now=gov.now)
        )
        == 1
    )

    case = await gov.move("resolve", worker, case)
    assert await late_at(gov.now + timedelta(days=365)) == []
