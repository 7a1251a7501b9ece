"""Which columns are sealed, under which name, and rows sealed on their way in.

A column's name (`residents.id_number`) is bound into every value sealed for it and into its
blind index, so neither can be moved to another column. Writers call `resident_values` (one
resident), `sealed_rows` (a batch of plain rows, as the seed writes them) or `seal_payload`
(a quarantined record); `SEALED` lists every sealed column, for the rotation and the
migration.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from hub.crypto.ring import KeyRing
from hub.storage.models import GridMember, QuarantinedRecord, Resident

ID_NUMBER = "residents.id_number"
PHONE = "residents.phone"
MEMBER_PHONE = "grid_members.phone"
PAYLOAD = "quarantine.payload"


@dataclass(frozen=True)
class SealedColumn:
    name: str  # bound into the value: `table.column` of the plain value it holds
    column: str  # where the sealed value is stored
    index: str | None = None  # where its blind index is stored, if it has one


SEALED: dict[Table, tuple[SealedColumn, ...]] = {
    Resident.__table__: (  # type: ignore[dict-item]
        SealedColumn(ID_NUMBER, "id_number_encrypted", "id_number_index"),
        SealedColumn(PHONE, "phone_encrypted"),
    ),
    GridMember.__table__: (SealedColumn(MEMBER_PHONE, "phone_encrypted"),),  # type: ignore[dict-item]
    QuarantinedRecord.__table__: (SealedColumn(PAYLOAD, "payload_encrypted"),),  # type: ignore[dict-item]
}


def resident_values(ring: KeyRing, *, id_number: str, phone: str | None) -> dict[str, Any]:
    """A resident's sealed columns, from its plain ID number and phone."""
    return {
        "id_number_encrypted": ring.seal(ID_NUMBER, id_number),
        "id_number_index": ring.index(ID_NUMBER, id_number),
        "phone_encrypted": ring.seal_optional(PHONE, phone),
    }


def sealed_rows(
    table: Table, rows: Sequence[dict[str, Any]], ring: KeyRing
) -> Sequence[dict[str, Any]]:
    """Plain rows of `table` (`id_number`, `phone` …) as stored, sealed; other tables as given."""
    if table is Resident.__table__:
        return [_resident_row(row, ring) for row in rows]
    if table is GridMember.__table__:
        seal = ring.seal_optional
        return [
            {**_without(row, ("phone",)), "phone_encrypted": seal(MEMBER_PHONE, row["phone"])}
            for row in rows
        ]
    return rows


def _resident_row(row: dict[str, Any], ring: KeyRing) -> dict[str, Any]:
    sealed = resident_values(ring, id_number=row["id_number"], phone=row.get("phone"))
    return {**_without(row, ("id_number", "phone")), **sealed}


def _without(row: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    dropped = set(names)
    return {name: value for name, value in row.items() if name not in dropped}


def seal_payload(ring: KeyRing, payload: dict[str, Any]) -> bytes:
    """The JSON a JSON column would hold (ASCII-escaped: payloads may carry unpaired
    surrogates, which UTF-8 cannot), sealed."""
    return ring.seal(PAYLOAD, json.dumps(payload, separators=(",", ":")))


def open_payload(ring: KeyRing, sealed: bytes) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(ring.open(PAYLOAD, sealed))
    return payload
