"""Harvest quotas: how many distinct residents' PII or sensitive fields a client reads a day.

A clerk looks up tens of people a day, not a street. The policy gives each role a daily
quota (`harvest_quota_per_day`, overridable per client); a resident counts once a day however
often they are read. Past the quota, those fields are refused with QUOTA_EXCEEDED (the rest
of the answer is served) and the first refusal of the day raises an alert event in the
audit trail.

Executors decide per resident without I/O: `HarvestQuota` is loaded once per request (the
residents this client already read today), `allows(resident_id)` is a plain function on it,
and `QuotaStore.save` writes the newly counted residents once the request is done. The
count lives in the database, so it survives restarts and is shared by every worker; two
requests of one client running at the same moment may together overshoot the quota by
what they read in parallel (each sees the count as it stood when it started).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.storage.base import utcnow
from hub.storage.models import HarvestAlert, HarvestRead


@dataclass
class HarvestQuota:
    """One client's quota for one day, as loaded for one request. `limit=None`: no quota."""

    limit: int | None = None
    seen: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)
    refused: int = 0

    def allows(self, resident_id: str) -> bool:
        """May this resident's PII or sensitive fields be read now? Counts a new resident."""
        if self.limit is None or resident_id in self.seen:
            return True
        if len(self.seen) >= self.limit:
            self.refused += 1
            return False
        self.seen.add(resident_id)
        self.added.append(resident_id)
        return True

    @property
    def used(self) -> int:
        return len(self.seen)


class QuotaStore:
    """`harvest_reads` and `harvest_alerts`; one load and at most two writes per request."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def load(self, client_key: str, *, day: date, limit: int | None) -> HarvestQuota:
        if limit is None:
            return HarvestQuota()
        query = select(HarvestRead.resident_id).where(
            HarvestRead.client_key == client_key, HarvestRead.day == day
        )
        async with self.engine.connect() as connection:
            seen = set((await connection.scalars(query)).all())
        return HarvestQuota(limit=limit, seen=seen)

    async def save(self, client_key: str, *, day: date, quota: HarvestQuota) -> bool:
        """Write what this request counted; True when this is the day's first refusal."""
        if not quota.added and not quota.refused:
            return False
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        alerted = False
        async with self.engine.begin() as connection:
            if quota.added:
                rows = [
                    {"client_key": client_key, "day": day, "resident_id": resident_id}
                    for resident_id in quota.added
                ]
                reads = dialect.insert(HarvestRead.__table__).on_conflict_do_nothing()
                await connection.execute(reads, rows)
            if quota.refused:
                alert = (
                    dialect.insert(HarvestAlert.__table__)
                    .values(client_key=client_key, day=day, at=utcnow())
                    .on_conflict_do_nothing()
                    .returning(HarvestAlert.client_key)
                )
                alerted = (await connection.execute(alert)).first() is not None
        return alerted
