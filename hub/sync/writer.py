"""Writes prepared records: upserts by (source, source_record_id); creates or updates residents.

A `case` stream's records go to grid governance instead (`receive_external_case`): a new
source record opens a REPORTED case (inserted), one seen before changes nothing (unchanged);
an unknown grid is CONFLICT, a draft the domain refuses SCHEMA_ERROR.

A resident's ID number and phone are written sealed, with the ID number's blind index, under
the batch's key ring (hub/crypto).
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from connectors.mapping import MappedRecord
from connectors.targets import CaseRecord, ResidentFields
from hub.crypto.columns import PHONE, resident_values
from hub.crypto.ring import KeyRing
from hub.errors import BadInputError
from hub.governance.cases import receive_external_case
from hub.governance.drafts import CaseDraft
from hub.governance.enums import CATEGORY_OF, CaseSource
from hub.identity import birth_date_of, gender_of
from hub.storage.base import utcnow
from hub.storage.models import Grid, Household, QuarantineReason, Resident, SourceRecord
from hub.sync.batch import Lookups, RejectedRecord
from hub.sync.context import StreamContext

Outcome = Literal["inserted", "updated", "unchanged"]


class Writer:
    """Applies prepared records of one batch to the session; the caller commits."""

    def __init__(
        self, session: AsyncSession, context: StreamContext, lookups: Lookups, fields: KeyRing
    ) -> None:
        self.session, self.context, self.lookups = session, context, lookups
        self.fields = fields

    async def write(self, mapped: MappedRecord, id_number: str | None) -> Outcome:
        if isinstance(mapped.record, CaseRecord):
            return await self._case(mapped, mapped.record, id_number)
        assert id_number is not None  # required of every target about a resident
        existing = self.lookups.records.get(mapped.source_record_id)
        resident = self.lookups.residents.get(id_number)
        if existing is not None:
            return await self._update(existing, resident, mapped, id_number)
        if self.context.mapping.creates_residents:
            resident = await self._upsert_resident(resident, id_number, mapped.resident)
        elif resident is None:
            raise RejectedRecord(
                QuarantineReason.UNMATCHED_RESIDENT,
                "no resident has this ID number; it is retried once the police register creates them",
            )
        self._insert(resident, mapped)
        return "inserted"

    async def _update(
        self,
        existing: SourceRecord,
        resident: Resident | None,
        mapped: MappedRecord,
        id_number: str,
    ) -> Outcome:
        if resident is None or existing.resident_id != resident.id:
            raise RejectedRecord(
                QuarantineReason.CONFLICT,
                f"source record {mapped.source_record_id} already belongs to another resident; "
                "the source changed whom it is about",
            )
        if mapped.source_updated_at <= existing.source_updated_at:
            return "unchanged"  # stale or the same version: never overwrite newer data
        if self.context.mapping.creates_residents:
            await self._upsert_resident(resident, id_number, mapped.resident)
        for name, value in mapped.record.model_dump().items():
            setattr(existing, name, value)
        existing.source_updated_at = mapped.source_updated_at
        existing.ingested_at = utcnow()
        return "updated"

    async def _case(
        self, mapped: MappedRecord, record: CaseRecord, id_number: str | None
    ) -> Outcome:
        grid = self._grid(record.grid_code)
        resident = self.lookups.residents.get(id_number) if id_number else None
        draft = CaseDraft(
            category=record.category or CATEGORY_OF[record.subtype], subtype=record.subtype,
            description=record.description, location=record.location,
            group_appeal=record.group_appeal, mass_incident=record.mass_incident,
            petition_beyond_district=record.petition_beyond_district,
            resident_ids=(resident.id,) if resident is not None else (),
        )  # fmt: skip
        try:
            _, created = await receive_external_case(
                self.session, connector=self.context.connector, source=CaseSource.HOTLINE,
                source_record_id=mapped.source_record_id, grid_code=grid.code, draft=draft,
            )  # fmt: skip
        except BadInputError as error:
            raise RejectedRecord(QuarantineReason.SCHEMA_ERROR, str(error)) from None
        return "inserted" if created else "unchanged"

    def _insert(self, resident: Resident, mapped: MappedRecord) -> None:
        assert self.context.model is not None
        row = self.context.model(
            source=self.context.source,
            source_record_id=mapped.source_record_id,
            source_updated_at=mapped.source_updated_at,
            ingested_at=utcnow(),
            resident_id=resident.id,
            **mapped.record.model_dump(),
        )
        self.session.add(row)
        self.lookups.remember(self.lookups.records, mapped.source_record_id, row)

    async def _upsert_resident(
        self, resident: Resident | None, id_number: str, fields: ResidentFields | None
    ) -> Resident:
        fields = fields or ResidentFields()
        grid = self._grid(fields.grid_code) if fields.grid_code else None
        if resident is None:
            _require_fields_to_create(fields, grid)
        household = None
        if fields.household_number and grid is not None:
            household = await self._household(fields.household_number, fields, grid)
        if resident is None:
            assert grid is not None
            resident = self._new_resident(id_number, fields, grid, household)
            # No ORM relationship orders the INSERTs, and foreign keys are checked per
            # statement: write the resident before the records that point at it.
            await self.session.flush()
        else:
            _update_resident(resident, fields, grid, self.fields)
            if household is not None:
                resident.household_id = household.id
        return resident

    def _grid(self, code: str) -> Grid:
        grid = self.lookups.grids.get(code)
        if grid is None:
            raise RejectedRecord(
                QuarantineReason.CONFLICT,
                f"unknown grid code {code}; add the grid or fix the source's building code",
                {"grid_code": code},
            )
        return grid

    def _new_resident(
        self, id_number: str, fields: ResidentFields, grid: Grid, household: Household | None
    ) -> Resident:
        assert fields.name is not None
        resident = Resident(
            id=str(uuid.uuid4()),
            **resident_values(self.fields, id_number=id_number, phone=fields.phone),
            name=fields.name,
            gender=fields.gender or gender_of(id_number),
            birth_date=fields.birth_date or birth_date_of(id_number),
            address=fields.address,
            household_id=household.id if household else None,
            grid_code=grid.code,
            grid_path=grid.path,
        )
        self.session.add(resident)
        self.lookups.remember(self.lookups.residents, id_number, resident)
        return resident

    async def _household(self, number: str, fields: ResidentFields, grid: Grid) -> Household:
        household = self.lookups.households.get(number)
        if household is None:
            address = fields.household_address or fields.address or ""
            household = Household(
                id=str(uuid.uuid4()), number=number, address=address, grid_code=grid.code
            )
            self.session.add(household)
            self.lookups.remember(self.lookups.households, number, household)
            await self.session.flush()  # before the residents that point at it
        return household


def _require_fields_to_create(fields: ResidentFields, grid: Grid | None) -> None:
    missing = [n for n, v in (("name", fields.name), ("grid_code", grid)) if v is None]
    if missing:
        errors = [
            {"loc": ["resident", n], "type": "missing", "msg": "required to create a resident"}
            for n in missing
        ]
        raise RejectedRecord(QuarantineReason.SCHEMA_ERROR, "cannot create the resident", errors)


def _update_resident(
    resident: Resident, fields: ResidentFields, grid: Grid | None, keys: KeyRing
) -> None:
    """Apply what the record says; absent values keep what the hub holds."""
    for name in ("name", "gender", "birth_date", "address"):
        value = getattr(fields, name)
        if value is not None and getattr(resident, name) != value:
            setattr(resident, name, value)
    phone = fields.phone
    if phone is not None and keys.open_optional(PHONE, resident.phone_encrypted) != phone:
        resident.phone_encrypted = keys.seal(PHONE, phone)
    if grid is not None and resident.grid_code != grid.code:
        resident.grid_code, resident.grid_path = grid.code, grid.path
