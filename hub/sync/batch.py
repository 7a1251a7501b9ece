"""A batch made ready to write: records mapped, validated and keyed; what they refer to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import UNREADABLE_KEY
from connectors.errors import BadRecordError
from connectors.mapping import MappedRecord
from connectors.targets import CaseRecord, ResidentFields
from hub.crypto.columns import ID_NUMBER
from hub.crypto.ring import KeyRing
from hub.identity import IdNumberError, normalize_id_number
from hub.quarantine import record_key
from hub.storage.models import Grid, Household, QuarantineReason, Resident, SourceRecord
from hub.sync.context import StreamContext


class RejectedRecord(Exception):
    """Raised inside the pipeline for a record that goes to quarantine."""

    def __init__(self, reason: QuarantineReason, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.detail = reason, message, detail


@dataclass
class Prepared:
    raw: dict[str, Any]
    key: str
    mapped: MappedRecord | None = None
    id_number: str | None = None
    rejection: RejectedRecord | None = None


def prepare(context: StreamContext, raw: dict[str, Any], *, started_at: datetime) -> Prepared:
    """Map, validate, check the time and normalise the ID number; failures become a rejection.

    `started_at` is the run's start: a record updated later than that (beyond the source's
    `future_tolerance`) carries a wrong clock or date and is refused as FUTURE_TIMESTAMP.
    """
    if UNREADABLE_KEY in raw:
        item = Prepared(raw, record_key(None, raw))
        where = {k: v for k, v in raw.items() if k in ("_file", "_line", "_row", "_page", "_item")}
        message = str(raw[UNREADABLE_KEY])
        item.rejection = RejectedRecord(QuarantineReason.UNREADABLE, message, where or None)
        return item
    item = Prepared(raw, record_key(context.mapping.record_key(raw), raw))
    try:
        item.mapped = context.mapping.apply(raw)
        _check_time(item.mapped.source_updated_at, context, started_at)
        if item.mapped.id_number is not None:
            item.id_number = normalize_id_number(item.mapped.id_number)
    except BadRecordError as error:
        item.rejection = RejectedRecord(QuarantineReason.SCHEMA_ERROR, str(error), error.errors)
    except IdNumberError as error:
        # The message names the part at fault, never the number (it is PII).
        detail = {"reason": error.reason.value, "detail": error.detail}
        message = f"invalid ID number: {error.reason.value} ({error.detail})"
        item.rejection = RejectedRecord(QuarantineReason.INVALID_ID_NUMBER, message, detail)
    except RejectedRecord as rejection:
        item.rejection = rejection
    return item


def _check_time(updated: datetime, context: StreamContext, started_at: datetime) -> None:
    if updated <= started_at + context.future_tolerance:
        return
    raise RejectedRecord(
        QuarantineReason.FUTURE_TIMESTAMP,
        f"updated at {updated.isoformat()}, after this run began ({started_at.isoformat()}, "
        f"tolerance {context.future_tolerance}): the source's clock or date is wrong; it never "
        "moves the cursor, and is taken once that time has passed or the source corrects it",
        {"source_updated_at": updated.isoformat(), "run_started_at": started_at.isoformat()},
    )


@dataclass
class Lookups:
    """Everything a batch refers to, fetched in a few queries and kept current as it is written.

    What the writer adds goes through `remember`, so `undo` can forget the rows of a record
    whose savepoint was rolled back (they are no longer in the session).
    """

    residents: dict[str, Resident] = field(default_factory=dict)
    records: dict[str, SourceRecord] = field(default_factory=dict)
    grids: dict[str, Grid] = field(default_factory=dict)
    households: dict[str, Household] = field(default_factory=dict)
    _added: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    def remember(self, table: dict[str, Any], key: str, row: Any) -> None:
        table[key] = row
        self._added.append((table, key))

    def mark(self) -> int:
        return len(self._added)

    def undo(self, mark: int) -> None:
        for table, key in reversed(self._added[mark:]):
            table.pop(key, None)
        del self._added[mark:]

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        context: StreamContext,
        items: Sequence[Prepared],
        fields: KeyRing,
    ) -> Lookups:
        good = [i for i in items if i.mapped is not None and i.rejection is None]
        ids = {i.mapped.source_record_id for i in good if i.mapped}
        model = context.model
        lookups = cls()
        # Identity resolution by blind index: one value per ID number and searchable key.
        numbers = {
            index: number
            for number in {i.id_number for i in good if i.id_number is not None}
            for index in fields.indexes(ID_NUMBER, number)
        }
        query = select(Resident).where(Resident.id_number_index.in_(numbers))
        lookups.residents = {numbers[r.id_number_index]: r for r in await session.scalars(query)}
        if model is None:  # cases: their grids (receive_external_case finds earlier ones)
            codes = {i.mapped.record.grid_code for i in good if isinstance(i.mapped, MappedRecord)
                     and isinstance(i.mapped.record, CaseRecord)}  # fmt: skip
            await lookups._load_grids(session, codes)
            return lookups
        records = select(model).where(
            model.source == context.source, model.source_record_id.in_(ids)
        )
        lookups.records = {r.source_record_id: r for r in await session.scalars(records)}
        residents = [i.mapped.resident for i in good if i.mapped and i.mapped.resident]
        await lookups._load_places(session, residents)
        return lookups

    async def _load_grids(self, session: AsyncSession, codes: set[str]) -> None:
        if codes:
            query = select(Grid).where(Grid.code.in_(codes))
            self.grids = {g.code: g for g in await session.scalars(query)}

    async def _load_places(self, session: AsyncSession, residents: list[ResidentFields]) -> None:
        codes = {r.grid_code for r in residents if r.grid_code}
        numbers = {r.household_number for r in residents if r.household_number}
        await self._load_grids(session, codes)
        if numbers:
            query = select(Household).where(Household.number.in_(numbers))
            self.households = {h.number: h for h in await session.scalars(query)}
