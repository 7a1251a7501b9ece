"""Audit records and their hash chain: each event hashes its canonical form and its predecessor.

The canonical form is the event's columns (all but `id` and `hash`) as sorted-key,
compact, UTF-8 JSON; timestamps are ISO 8601 in UTC with microseconds. Columns added after
the first release (`ADDED_COLUMNS`) enter the canonical form only when they differ from
their default, so events written before they existed keep verifying, and a changed value
(default or not) still changes the hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

GENESIS_HASH = "0" * 64


class Outcome(StrEnum):
    OK = "OK"  # answered without errors
    PARTIAL = "PARTIAL"  # data returned, some fields refused or failed
    DENIED = "DENIED"  # nothing returned: refused (token, scope, purpose)
    INVALID = "INVALID"  # the request itself was malformed or invalid
    REJECTED = "REJECTED"  # refused before GraphQL: transport, size or shape of the request
    LIMITED = "LIMITED"  # refused by a bound: cost, rate limit, quota, load shedding
    TIMEOUT = "TIMEOUT"  # execution ran out of time and was cancelled
    ERROR = "ERROR"  # the hub failed


@dataclass(frozen=True)
class AuditRecord:
    """What one request did, before it takes its place in a chain."""

    at: datetime
    request_id: str
    endpoint: str
    outcome: Outcome
    duration_us: int
    client_id: str | None = None
    subject: str | None = None
    roles: list[str] = dataclasses.field(default_factory=list)
    scopes: list[str] = dataclasses.field(default_factory=list)
    grid_scope: str | None = None
    client_address: str | None = None
    purpose: str | None = None
    end_user: str | None = None
    case_ref: str | None = None
    operation_type: str | None = None
    operation_name: str | None = None
    document_hash: str | None = None
    variables: dict[str, Any] = dataclasses.field(default_factory=dict)
    resident_ids: list[str] = dataclasses.field(default_factory=list)
    fields: list[str] = dataclasses.field(default_factory=list)
    denied_paths: list[str] = dataclasses.field(default_factory=list)
    error_codes: list[str] = dataclasses.field(default_factory=list)
    issuer: str | None = None  # the token's `iss`: the hub's own or a trusted external issuer
    request_count: int = 1  # refusals aggregated into this event (floods: hub/audit/floods.py)

    def chained(self, *, chain_id: str, seq: int, prev_hash: str) -> dict[str, Any]:
        """The event's column values, linked to its predecessor and sealed with its hash."""
        values = {name: getattr(self, name) for name in RECORD_FIELDS}  # asdict() deep-copies
        values.update(outcome=self.outcome.value, chain_id=chain_id, seq=seq, prev_hash=prev_hash)
        values["hash"] = event_hash(values)
        return values


RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(AuditRecord))
# Added after events already existed: hashed only when not at their default (see above).
ADDED_COLUMNS: dict[str, Any] = {"issuer": None, "request_count": 1}
HASHED_COLUMNS = (
    *(name for name in RECORD_FIELDS if name not in ADDED_COLUMNS),
    "chain_id",
    "seq",
    "prev_hash",
)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    raise TypeError(f"cannot put {type(value).__name__} into an audit event")


def canonical(values: Mapping[str, Any]) -> bytes:
    """Sorted-key UTF-8 JSON of the hashed columns only (extra keys such as `id` are ignored)."""
    document = {name: values[name] for name in HASHED_COLUMNS}
    for name, default in ADDED_COLUMNS.items():
        value = values.get(name, default)
        if value != default:
            document[name] = value
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z, default=_encode)


def event_hash(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(values)).hexdigest()
