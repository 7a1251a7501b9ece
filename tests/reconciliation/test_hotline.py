"""The citizen hotline (12345) through the demo's `case` connector: each work order one case.

What the hotline simulator holds is computed independently from its work orders and compared
with the cases the hub holds (by source record id): grid, sub-type and category, text,
group appeal, and the caller as the involved resident when the caller gave an ID number the
hub knows. A second sync opens cases for new calls only; the hotline's own later edits of a
work order change nothing in the hub; bad work orders go to quarantine and nothing else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.config import Settings
from hub.demo.simulators.hotline_api import APPEAL_TYPES
from hub.demo.simulators.run import RunningSimulators
from hub.governance.enums import CATEGORY_OF, CaseSource, CaseSubtype
from hub.storage.models import (
    Case,
    CaseResident,
    CaseTrace,
    QuarantinedRecord,
    QuarantineReason,
    RunStatus,
)
from hub.sync import RunSummary, sync
from tests.conftest import stored_residents
from tests.reconciliation.support import fast_config

HOTLINE = ("hotline_12345", "work-orders")
Appeal = tuple[str, str, str, str, bool, str | None]  # grid, subtype, category, text, group, caller


async def run(settings: Settings, engine: AsyncEngine, sims: RunningSimulators) -> RunSummary:
    """The police register (it creates the residents callers are), then the hotline."""
    summaries = await sync(
        settings, engine, connectors=["police_api", "hotline_12345"], config=fast_config(),
        env=sims.env(),
    )  # fmt: skip
    assert all(s.status is RunStatus.SUCCEEDED for s in summaries), summaries
    (hotline,) = (s for s in summaries if (s.connector, s.stream) == HOTLINE)
    return hotline


def expected(sims: RunningSimulators, known: set[str], skip: frozenset[str] = frozenset()) -> Any:
    """What the hub must hold for the simulator's work orders (`known`: ID numbers it has)."""
    appeals: dict[str, Appeal] = {}
    for number, order in sims.hotline.orders.items():
        if number in skip:
            continue
        subtype = CaseSubtype(APPEAL_TYPES[order["sqlx"]])
        caller = order["ldrsfzh"] if order["ldrsfzh"] in known else None
        appeals[number] = (
            order["wgbm"], subtype.value, CATEGORY_OF[subtype].value, order["sqnr"],
            order["qtsq"] == "是", caller,
        )  # fmt: skip
    return appeals


async def held(engine: AsyncEngine) -> tuple[dict[str, Appeal], set[str]]:
    """The hub's hotline cases by work order number, and every ID number it knows."""
    by_id = {r.id: number for number, r in (await stored_residents(engine)).items()}
    async with engine.connect() as connection:
        linked = (
            await connection.execute(select(CaseResident.case_id, CaseResident.resident_id))
        ).all()
        rows = (
            await connection.execute(select(Case).where(Case.source == CaseSource.HOTLINE))
        ).all()
    callers = {case_id: by_id[resident_id] for case_id, resident_id in linked}
    known = set(by_id.values())
    cases: dict[str, Appeal] = {}
    for row in rows:
        cases[str(row.source_record_id)] = (
            row.grid_code, str(row.subtype), str(row.category), row.description,
            row.group_appeal, callers.get(row.id),
        )  # fmt: skip
    return cases, known


async def test_every_work_order_becomes_one_reported_case_as_the_hotline_has_it(
    settings: Settings, hub: AsyncEngine, sims: RunningSimulators
) -> None:
    summary = await run(settings, hub, sims)

    cases, known = await held(hub)
    assert cases == expected(sims, known)
    assert (summary.counts.read, summary.counts.inserted) == (len(cases), len(cases))
    assert any(caller is not None for *_, caller in cases.values())  # callers were linked
    assert any(caller is None for *_, caller in cases.values())  # anonymous ones too
    async with hub.connect() as connection:
        states = set((await connection.scalars(select(Case.state))).all())
        reporters = set((await connection.scalars(select(CaseTrace.actor))).all())
    assert states == {"REPORTED"}
    assert reporters == {"connector:hotline_12345"}


async def test_a_second_sync_opens_cases_for_new_calls_only(
    settings: Settings, hub: AsyncEngine, sims: RunningSimulators
) -> None:
    await run(settings, hub, sims)
    followed = sorted(sims.hotline.orders)[0]
    async with hub.connect() as connection:
        before = await connection.scalar(
            select(Case.version).where(Case.source_record_id == followed)
        )

    sims.hotline.follow_up(followed)
    new = sims.hotline.take_calls(3)
    summary = await run(settings, hub, sims)

    cases, known = await held(hub)
    assert cases == expected(sims, known)
    assert set(new) <= set(cases)
    assert (summary.counts.read, summary.counts.inserted, summary.counts.unchanged) == (4, 3, 1)
    async with hub.connect() as connection:
        after = await connection.scalar(
            select(Case.version).where(Case.source_record_id == followed)
        )
    assert after == before == 1


async def test_bad_work_orders_are_quarantined_and_open_no_case(
    settings: Settings, hub: AsyncEngine, sims: RunningSimulators
) -> None:
    unknown_grid, unknown_type = sims.hotline.take_calls(2)
    sims.hotline.orders[unknown_grid]["wgbm"] = "999999999999999"
    sims.hotline.orders[unknown_type]["sqlx"] = "其他诉求"

    summary = await run(settings, hub, sims)

    cases, known = await held(hub)
    assert cases == expected(sims, known, skip=frozenset({unknown_grid, unknown_type}))
    async with hub.connect() as connection:
        quarantined = set(
            (
                await connection.execute(
                    select(QuarantinedRecord.source_record_id, QuarantinedRecord.reason).where(
                        QuarantinedRecord.connector == HOTLINE[0]
                    )
                )
            ).all()
        )
    assert quarantined == {
        (unknown_grid, QuarantineReason.CONFLICT),
        (unknown_type, QuarantineReason.SCHEMA_ERROR),
    }
    assert summary.counts.quarantined == 2
