"""Ledgers (台账): a grid's work across its subtree, counted per day, week and month."""

from __future__ import annotations

from datetime import date, timedelta

from hub.governance import ledgers, meetings, patrols, visits
from hub.governance.enums import ParticipantKind
from hub.governance.meetings import Participant
from hub.governance.periods import Granularity, Period
from hub.governance.permissions import Actor
from tests.governance.conftest import (
    BUILDING,
    COMMUNITY,
    DISTRICT,
    OTHER_BUILDING,
    Governance,
    actor,
)

WORKER = actor("grid_worker", BUILDING)


async def some_work(gov: Governance) -> None:
    """Monday 3 August: a patrol, a visit, a case reported and accepted; Tuesday: resolved
    and a meeting; the other street patrols on Monday too."""
    await gov.run(
        lambda session: patrols.record_patrol(
            session,
            actor=WORKER,
            idempotency_key=gov.key(),
            grid_code=BUILDING,
            started_at=gov.now - timedelta(minutes=30),
            ended_at=gov.now,
            clock=gov.clock,
        )
    )
    await gov.run(
        lambda session: patrols.record_patrol(
            session,
            actor=actor("grid_worker", OTHER_BUILDING),
            idempotency_key=gov.key(),
            grid_code=OTHER_BUILDING,
            started_at=gov.now - timedelta(minutes=30),
            ended_at=gov.now,
            clock=gov.clock,
        )
    )
    await gov.run(
        lambda session: visits.record_visit(
            session,
            actor=WORKER,
            idempotency_key=gov.key(),
            household_id=gov.households[BUILDING][0],
            visited_at=gov.now,
            clock=gov.clock,
        )
    )
    case = await gov.report(WORKER)
    case = await gov.move("accept", WORKER, case)
    gov.tick(days=1)
    await gov.move("resolve", WORKER, case)
    units = [
        Participant(ParticipantKind.GRID, grid_code=COMMUNITY),
        Participant(ParticipantKind.OUTSIDE_UNIT, unit_name="物业"),
    ]
    await gov.run(
        lambda session: meetings.record_joint_meeting(
            session,
            actor=actor("grid_worker", COMMUNITY),
            idempotency_key=gov.key(),
            grid_code=COMMUNITY,
            held_at=gov.now,
            topic="t",
            decisions="d",
            participants=units,
            clock=gov.clock,
        )
    )


async def ledger(
    gov: Governance, grid: str, period: Period, granularity: Granularity, who: Actor | None = None
) -> list[ledgers.LedgerBucket]:
    return await gov.run(
        lambda session: ledgers.ledger(
            session,
            actor=who or actor("district_dispatcher"),
            grid_code=grid,
            period=period,
            granularity=granularity,
        )
    )


def nonzero(bucket: ledgers.LedgerBucket) -> dict[str, int]:
    return {kind: count for kind, count in bucket.counts.items() if count}


async def test_a_daily_ledger_counts_each_kind_of_work_on_its_day(gov: Governance) -> None:
    await some_work(gov)

    days = await ledger(gov, COMMUNITY, Period(date(2026, 8, 3), date(2026, 8, 5)), Granularity.DAY)

    assert [bucket.period.start for bucket in days] == [
        date(2026, 8, 3),
        date(2026, 8, 4),
        date(2026, 8, 5),
    ]
    assert nonzero(days[0]) == {"PATROL": 1, "VISIT": 1, "REPORT": 1, "ACCEPT": 1}
    assert nonzero(days[1]) == {"RESOLVE": 1, "MEETING": 1}
    assert days[2].total == 0


async def test_weekly_and_monthly_ledgers_cut_their_buckets_to_the_period(gov: Governance) -> None:
    await some_work(gov)
    august = Period.month(2026, 8)

    weeks = await ledger(gov, DISTRICT, august, Granularity.WEEK)
    months = await ledger(gov, DISTRICT, august, Granularity.MONTH)

    assert (weeks[0].period, weeks[-1].period) == (
        Period(date(2026, 8, 1), date(2026, 8, 2)),
        Period(date(2026, 8, 31), date(2026, 8, 31)),
    )
    assert nonzero(weeks[1]) == {
        "PATROL": 2,
        "VISIT": 1,
        "REPORT": 1,
        "ACCEPT": 1,
        "RESOLVE": 1,
        "MEETING": 1,
    }
    assert [bucket.total for bucket in months] == [7]


async def test_a_grid_ledger_leaves_out_other_subtrees(gov: Governance) -> None:
    await some_work(gov)

    week = await ledger(gov, BUILDING, Period.week_of(date(2026, 8, 3)), Granularity.WEEK, WORKER)

    assert nonzero(week[0]) == {"PATROL": 1, "VISIT": 1, "REPORT": 1, "ACCEPT": 1, "RESOLVE": 1}
