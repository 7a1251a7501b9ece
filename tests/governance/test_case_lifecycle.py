"""Cases through the services: every legal move, its trace, its deadline, its assignments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError, InvalidTransitionError
from hub.governance import cases
from hub.governance.enums import (
    AssignmentKind,
    CaseAction,
    CaseCategory,
    CaseSource,
    CaseState,
    CaseSubtype,
    Satisfaction,
)
from hub.governance.states import TRANSITIONS
from hub.storage.models import Case, CaseHousehold, CaseResident, CaseTrace
from hub.vocabulary import Department, GridLevel
from tests.governance.conftest import (
    BUILDING,
    COMMUNITY,
    DISTRICT,
    STREET,
    T0,
    Governance,
    actor,
    draft,
)

SHA = "ab" * 32


async def traces(gov: Governance, case: Case) -> list[CaseTrace]:
    async def load(session: AsyncSession) -> list[CaseTrace]:
        query = select(CaseTrace).where(CaseTrace.case_id == case.id).order_by(CaseTrace.seq)
        return list(await session.scalars(query))

    return await gov.run(load)


async def test_a_reported_case_waits_in_its_grid_with_the_acceptance_deadline_of_its_level(
    gov: Governance,
) -> None:
    worker = actor("grid_worker", BUILDING)
    resident, household = gov.residents[BUILDING][0], gov.households[BUILDING][0]

    case = await gov.report(
        worker,
        group_appeal=True,
        location="3号楼2单元",
        resident_ids=(resident,),
        household_ids=(household,),
        note="巡查发现",
        attachments=(SHA.upper(),),
    )

    assert (case.state, case.version, case.source) == (CaseState.REPORTED, 1, CaseSource.GRID)
    assert (case.grid_code, case.holding_grid_code, case.holding_level) == (
        BUILDING,
        BUILDING,
        GridLevel.BUILDING,
    )
    assert case.due_at == T0 + timedelta(hours=2)
    assert (case.group_appeal, case.location) == (True, "3号楼2单元")
    (trace,) = await traces(gov, case)
    assert (trace.seq, trace.action, trace.from_state, trace.to_state) == (
        1,
        CaseAction.REPORT,
        None,
        CaseState.REPORTED,
    )
    assert (trace.actor, trace.actor_role, trace.actor_grid_code, trace.at) == (
        worker.principal,
        "grid_worker",
        BUILDING,
        T0,
    )
    assert (trace.note, trace.attachments, trace.due_at) == ("巡查发现", [SHA], case.due_at)
    assert await gov.count(CaseResident) == 1
    assert await gov.count(CaseHousehold) == 1


async def test_a_case_solved_in_its_grid_is_accepted_resolved_verified_and_closed_with_a_rating(
    gov: Governance,
) -> None:
    worker = actor("grid_worker", BUILDING)
    case = await gov.report(worker)

    gov.tick(hours=1)
    case = await gov.move("accept", worker, case)
    assert (case.state, case.version, case.due_at) == (
        CaseState.ACCEPTED,
        2,
        gov.now + timedelta(days=3),
    )
    gov.tick(days=1)
    case = await gov.move("resolve", worker, case, note="已劝导移除")
    assert (case.state, case.due_at) == (CaseState.RESOLVED, None)
    case = await gov.move("verify", worker, case)
    case = await gov.move("close", worker, case, satisfaction=Satisfaction.BASICALLY_SATISFIED)

    assert (case.state, case.version, case.satisfaction) == (
        CaseState.CLOSED,
        5,
        Satisfaction.BASICALLY_SATISFIED,
    )
    moves = [(t.from_state, t.action, t.to_state) for t in await traces(gov, case)]
    assert moves == [
        (None, CaseAction.REPORT, CaseState.REPORTED),
        (CaseState.REPORTED, CaseAction.ACCEPT, CaseState.ACCEPTED),
        (CaseState.ACCEPTED, CaseAction.RESOLVE, CaseState.RESOLVED),
        (CaseState.RESOLVED, CaseAction.VERIFY, CaseState.VERIFIED),
        (CaseState.VERIFIED, CaseAction.CLOSE, CaseState.CLOSED),
    ]
    history = await traces(gov, case)
    assert history[-1].satisfaction is Satisfaction.BASICALLY_SATISFIED
    assert [t.prior_due_at for t in history] == [None, *(t.due_at for t in history[:-1])]


async def test_escalation_climbs_one_level_at_a_time_each_with_its_own_deadlines(
    gov: Governance,
) -> None:
    case = await gov.report(actor("grid_worker", BUILDING))
    expected = [
        (COMMUNITY, GridLevel.COMMUNITY, 4),
        (STREET, GridLevel.STREET, 8),
        (DISTRICT, GridLevel.DISTRICT, 24),
    ]
    holder = BUILDING
    for parent, level, hours in expected:
        worker = actor("grid_worker", holder)
        case = await gov.move("accept", worker, case)
        gov.tick(hours=1)
        case = await gov.move("escalate", worker, case, note="需上级协调")
        assert (case.state, case.holding_grid_code, case.holding_level) == (
            CaseState.ESCALATED,
            parent,
            level,
        )
        assert case.due_at == gov.now + timedelta(hours=hours)
        assert case.grid_code == BUILDING  # the reporting grid never moves
        holder = parent

    dispatcher = actor("district_dispatcher")
    accepted = await gov.move("accept", dispatcher, case)
    with pytest.raises(InvalidTransitionError, match="held by a district grid cannot ESCALATE"):
        await gov.move("escalate", dispatcher, accepted)


async def test_the_dispatcher_assigns_departments_and_an_assigned_department_resolves(
    gov: Governance,
) -> None:
    case = await gov.escalated_to_district(actor("grid_worker", BUILDING))
    dispatcher = actor("district_dispatcher")

    gov.tick(hours=2)
    case = await gov.move("assign", dispatcher, case, departments=[Department.HEALTH])
    assert (case.state, case.due_at) == (CaseState.ASSIGNED, gov.now + timedelta(days=15))
    first_due = case.due_at
    gov.tick(days=1)
    case = await gov.move(
        "assign", dispatcher, case, departments=[Department.POLICE, Department.POLICE]
    )
    assert (case.state, case.due_at) == (CaseState.ASSIGNED, first_due)  # the clock runs on
    case = await gov.move("resolve", actor("police_officer"), case)

    assert case.state is CaseState.RESOLVED
    assignments = await gov.run(
        lambda session: cases.case_assignments(session, actor=dispatcher, case_id=case.id)
    )
    assert [(a.kind, a.department) for a in assignments] == [
        (AssignmentKind.DEPARTMENT, Department.HEALTH),
        (AssignmentKind.DEPARTMENT, Department.POLICE),
    ]
    last = (await traces(gov, case))[-1]
    assert (last.actor_role, last.actor_department, last.actor_grid_code) == (
        "police_officer",
        Department.POLICE,
        None,
    )


async def test_the_dispatcher_may_also_resolve_an_assigned_case_for_the_district(
    gov: Governance,
) -> None:
    case = await gov.assigned(Department.EDUCATION)

    case = await gov.move("resolve", actor("district_dispatcher"), case, note="联席会议议定")

    assert case.state is CaseState.RESOLVED
    assert (await traces(gov, case))[-1].actor_grid_code == DISTRICT


async def test_a_reopened_case_goes_back_to_the_grid_that_resolved_it(gov: Governance) -> None:
    case = await gov.assigned(Department.SOCIAL_SECURITY)
    case = await gov.move("resolve", actor("social_officer"), case)
    reporter = actor("grid_worker", BUILDING)
    case = await gov.move("verify", reporter, case)
    case = await gov.move("close", reporter, case, satisfaction=Satisfaction.DISSATISFIED)

    gov.tick(days=29)
    case = await gov.move("reopen", actor("district_dispatcher"), case, note="居民再次来电")

    assert (case.state, case.holding_grid_code, case.satisfaction) == (
        CaseState.REOPENED,
        DISTRICT,
        None,
    )
    assert case.due_at == gov.now + timedelta(hours=24)
    case = await gov.move("accept", actor("district_dispatcher"), case)
    assert case.state is CaseState.ACCEPTED


async def test_a_verified_case_can_be_reopened_by_its_reporting_grid(gov: Governance) -> None:
    worker = actor("grid_worker", BUILDING)
    case = await gov.report(worker)
    for verb in ("accept", "resolve", "verify"):
        case = await gov.move(verb, worker, case)

    case = await gov.move("reopen", worker, case)

    assert (case.state, case.holding_grid_code) == (CaseState.REOPENED, BUILDING)


async def test_reopening_after_the_window_is_refused_and_changes_nothing(gov: Governance) -> None:
    case = await gov.closed()
    gov.tick(days=30, seconds=1)

    with pytest.raises(InvalidTransitionError, match="report a new case instead"):
        await gov.move("reopen", actor("grid_worker", BUILDING), case)

    assert (await gov.case(case.id)).state is CaseState.CLOSED
    assert len(await traces(gov, case)) == 5


async def test_accepting_may_name_posts_of_the_holding_grids_board(gov: Governance) -> None:
    worker = actor("grid_worker", BUILDING)
    case = await gov.report(worker)

    with pytest.raises(BadInputError, match="not on the responsibility board"):
        await gov.move("accept", worker, case, post_member_ids=[gov.chiefs[COMMUNITY]])
    case = await gov.move("accept", worker, case, post_member_ids=[gov.chiefs[BUILDING]])

    assignments = await gov.run(
        lambda session: cases.case_assignments(session, actor=worker, case_id=case.id)
    )
    assert [(a.kind, a.member_id, a.trace_seq) for a in assignments] == [
        (AssignmentKind.POST, gov.chiefs[BUILDING], 2)
    ]


async def test_an_illegal_move_through_a_service_changes_nothing(gov: Governance) -> None:
    worker = actor("grid_worker", BUILDING)
    case = await gov.report(worker)

    with pytest.raises(InvalidTransitionError, match="state REPORTED cannot RESOLVE"):
        await gov.move("resolve", worker, case)

    stored = await gov.case(case.id)
    assert (stored.state, stored.version) == (CaseState.REPORTED, 1)
    assert len(await traces(gov, case)) == 1


async def test_every_legal_transition_of_the_table_works_through_the_services(
    gov: Governance,
) -> None:
    await gov.closed()  # REPORTED→ACCEPTED→RESOLVED→VERIFIED→CLOSED
    reopened = await gov.closed()
    reopened = await gov.move("reopen", actor("grid_worker", BUILDING), reopened)
    await gov.move("accept", actor("grid_worker", BUILDING), reopened)
    verified = await gov.report(actor("grid_worker", BUILDING))
    for verb in ("accept", "resolve", "verify", "reopen"):
        verified = await gov.move(verb, actor("grid_worker", BUILDING), verified)
    direct = await gov.escalated_to_district(actor("grid_worker", BUILDING))
    direct = await gov.move("assign", actor("district_dispatcher"), direct, departments=["HEALTH"])
    direct = await gov.move("assign", actor("district_dispatcher"), direct, departments=["POLICE"])
    await gov.move("resolve", actor("health_officer"), direct)
    await gov.assigned(Department.HEALTH)  # ESCALATED→ACCEPTED at the district, then ASSIGN

    async def moves(session: AsyncSession) -> set[tuple[CaseState, CaseAction]]:
        rows = await session.execute(
            select(CaseTrace.from_state, CaseTrace.action).where(CaseTrace.from_state.is_not(None))
        )
        return {(state, action) for state, action in rows if state is not None}

    assert await gov.run(moves) == set(TRANSITIONS)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"subtype": CaseSubtype.NOISE}, "NOISE belongs to LIVELIHOOD, not WORK_SAFETY"),
        ({"description": "  "}, "description must be 1 to 4000 characters"),
        ({"attachments": ("not-a-hash",)}, "SHA-256 digests"),
        ({"resident_ids": ("nobody",)}, "unknown resident 'nobody'"),
        ({"household_ids": ("h-410105002001001-1",)}, "unknown household"),
    ],
    ids=["subtype-of-another-category", "blank", "bad-hash", "unknown-resident", "far-household"],
)
async def test_a_bad_report_is_refused_with_what_to_fix_and_creates_nothing(
    gov: Governance, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadInputError, match=message):
        await gov.report(actor("grid_worker", BUILDING), BUILDING, **overrides)

    assert await gov.count(Case) == 0


async def test_a_resident_outside_the_reporters_subtree_is_unknown_to_it(gov: Governance) -> None:
    far = gov.residents["410105002001001"][0]

    with pytest.raises(BadInputError, match="none within your reach"):
        await gov.report(actor("grid_worker", BUILDING), resident_ids=(far,))
    case = await gov.report(actor("district_dispatcher"), resident_ids=(far,))

    assert case.source is CaseSource.DISPATCHER


async def test_a_hotline_appeal_is_created_once_per_source_record(gov: Governance) -> None:
    appeal = draft(category=CaseCategory.LIVELIHOOD, subtype=CaseSubtype.UTILITIES)

    async def receive(session: AsyncSession) -> tuple[Case, bool]:
        return await cases.receive_external_case(
            session,
            connector="hotline",
            source=CaseSource.HOTLINE,
            source_record_id="12345-0001",
            grid_code=BUILDING,
            draft=appeal,
            clock=gov.clock,
        )

    first, created = await gov.run(receive)
    again, created_again = await gov.run(receive)

    assert (created, created_again, again.id) == (True, False, first.id)
    assert (first.source, first.source_record_id, first.reported_by) == (
        CaseSource.HOTLINE,
        "12345-0001",
        "connector:hotline",
    )
    assert await gov.count(Case) == 1
