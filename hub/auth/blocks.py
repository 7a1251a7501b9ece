"""Blocking clients by issuer: `hub clients block --issuer ISS CLIENT_ID`.

A trusted outside issuer's clients are not registered here, so they cannot be revoked; an
operator blocks them by (issuer, client id) instead, and every token they carry is refused:
at once in this process, within the revocation refresh interval in every other (workers,
replicas; `hub/auth/tokens/revocation.py`). The client id is what the verifier reads from the
token: `client_id`, else `azp`, else `sub`. The hub's own issuer works too, though for its
own clients `hub clients revoke` also stops new tokens.

Session first, keyword-only after; the functions flush but never commit: the caller owns the
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.tokens.revocation import note_revoked
from hub.storage.base import utcnow
from hub.storage.models import BlockedClient


class BlockError(ValueError):
    """A block that cannot be made or lifted; the message names the fix."""


async def block_client(
    session: AsyncSession, *, issuer: str, client_id: str, reason: str | None = None
) -> BlockedClient:
    """Refuse every token of `client_id` issued by `issuer`; idempotent."""
    if not issuer.strip() or not client_id.strip():
        raise BlockError("name both the issuer (--issuer ISS) and the client id")
    existing = await session.get(BlockedClient, (issuer, client_id))
    if existing is not None:
        return existing
    blocked = BlockedClient(issuer=issuer, client_id=client_id, reason=reason, blocked_at=utcnow())
    session.add(blocked)
    await session.flush()
    note_revoked(blocked=(issuer, client_id))
    return blocked


async def unblock_client(session: AsyncSession, *, issuer: str, client_id: str) -> None:
    result = await session.execute(
        delete(BlockedClient).where(
            BlockedClient.issuer == issuer, BlockedClient.client_id == client_id
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise BlockError(f"{client_id!r} of {issuer!r} is not blocked")
    note_revoked(unblocked=(issuer, client_id))


async def blocked_clients(session: AsyncSession) -> Sequence[BlockedClient]:
    query = select(BlockedClient).order_by(BlockedClient.issuer, BlockedClient.client_id)
    return (await session.scalars(query)).all()
