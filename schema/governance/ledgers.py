"""Work ledgers (台账): a grid's work across its subtree, counted per day, week or month."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry import federation

from hub.governance import ledgers
from hub.governance.enums import CaseAction
from schema.context import Info
from schema.governance.common import KPI_READ, PeriodInput, actor_of, check_key, reading
from schema.governance.enums import Granularity


@strawberry.type(
    description=(
        "The work of one day, week or month (cut to the period asked for) in a grid's subtree: "
        "visits (their day), patrols (the day they started), joint meetings (the day held) and "
        "every case move (its day, China time, for the grid the actor acted for)."
    )
)
class LedgerBucket:
    start: date
    end: date
    visits: int
    patrols: int
    meetings: int
    reported: int = strawberry.field(description="REPORT moves: cases opened.")
    accepted: int
    escalated: int
    assigned: int
    resolved: int
    verified: int
    closed: int
    reopened: int
    total: int = strawberry.field(description="All of the above.")

    @classmethod
    def of(cls, bucket: ledgers.LedgerBucket) -> LedgerBucket:
        counts, action = bucket.counts, CaseAction
        return cls(
            start=bucket.period.start, end=bucket.period.end,
            visits=counts[ledgers.VISIT], patrols=counts[ledgers.PATROL],
            meetings=counts[ledgers.MEETING], reported=counts[action.REPORT],
            accepted=counts[action.ACCEPT], escalated=counts[action.ESCALATE],
            assigned=counts[action.ASSIGN], resolved=counts[action.RESOLVE],
            verified=counts[action.VERIFY], closed=counts[action.CLOSE],
            reopened=counts[action.REOPEN], total=bucket.total,
        )  # fmt: skip


@strawberry.type
class LedgerQuery:
    @federation.field(
        requires_scopes=KPI_READ,
        description="A grid's ledger (台账) over a period, one bucket per day, week or month.",
    )
    async def ledger(
        self,
        info: Info,
        grid: strawberry.ID,
        period: PeriodInput,
        by: Granularity = Granularity.DAY,
    ) -> list[LedgerBucket] | None:
        actor, code, span = actor_of(info), check_key(str(grid), "grid"), period.to_period()
        async with reading(info) as session:
            buckets = await ledgers.ledger(
                session, actor=actor, grid_code=code, period=span, granularity=by
            )
        return [LedgerBucket.of(bucket) for bucket in buckets]
