"""Idempotency keys: a retried mutation returns what the first call produced and creates nothing.

A field worker's phone retries on a bad network. Each mutation carries a key chosen by the
client; the first call with a key claims it (one INSERT … ON CONFLICT DO NOTHING, so two
concurrent calls cannot both claim it: on PostgreSQL the second waits for the first's
transaction) and records its result in the same transaction as its work. A later call with
the same key and the same arguments gets that result back; with other arguments it is refused.
Keys are per caller: two callers may use the same key without meeting.

A service that raises after claiming a key leaves the transaction to be rolled back by its
caller (the unit of work failed), which releases the key for a retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError, ConflictError
from hub.storage.models import IdempotencyKey

MAX_KEY_LENGTH = 128


class IdempotencyKeyReusedError(BadInputError):
    """The key was first used for a different request; a new request needs a new key."""


def fingerprint(operation: str, arguments: Mapping[str, Any]) -> str:
    """SHA-256 of the operation and its arguments in canonical JSON."""
    canonical = json.dumps(
        {"operation": operation, "arguments": arguments},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise BadInputError(
            f"an idempotency key is 1 to {MAX_KEY_LENGTH} printable characters; "
            "send a fresh UUID with each new request and the same one with its retries",
            field="idempotencyKey",
        )
    return key


async def claim(
    session: AsyncSession,
    *,
    caller: str,
    key: str,
    operation: str,
    arguments: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    """Claim `key` for this call: None when it is the first, else the first call's result."""
    digest = fingerprint(operation, arguments)
    values = {
        "caller": caller,
        "key": check_key(key),
        "operation": operation,
        "fingerprint": digest,
        "result": {},
        "created_at": now,
    }
    bind = session.get_bind()
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    table = IdempotencyKey.__table__
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing()
    inserted = await session.execute(statement.returning(table.c.key))
    if inserted.first() is not None:
        return None
    first = (
        await session.execute(
            select(IdempotencyKey.operation, IdempotencyKey.fingerprint, IdempotencyKey.result)
            .where(IdempotencyKey.caller == caller, IdempotencyKey.key == key)
            .execution_options(populate_existing=True)
        )
    ).one()
    if first.operation != operation or first.fingerprint != digest:
        raise IdempotencyKeyReusedError(
            f"idempotency key {key!r} was already used for another {first.operation} request; "
            "use a new key for a new request",
            field="idempotencyKey",
        )
    result: dict[str, Any] = first.result
    if not result:  # claimed by a call whose transaction was committed despite its error
        raise ConflictError(
            f"the first request with idempotency key {key!r} did not finish; "
            "send the request again with a new key",
            field="idempotencyKey",
        )
    return result


async def remember(session: AsyncSession, *, caller: str, key: str, result: dict[str, Any]) -> None:
    """Record what the call that claimed `key` produced (same transaction as its work)."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.caller == caller, IdempotencyKey.key == key)
        .values(result=result)
    )


async def prune(session: AsyncSession, *, older_than: datetime) -> int:
    """Forget keys claimed before `older_than` (retries come within minutes, not weeks)."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
