"""Who is calling: the `Caller` every request carries, made from verified token claims."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth.policy import Policy, RowScope
from hub.auth.tokens import AccessClaims
from hub.storage.models import Grid


@dataclass(frozen=True)
class Caller:
    """The authenticated caller; `grid_path` confines resident data to a subtree (None: district).

    The default is nobody: no scopes, so every protected field is refused.
    `expires_at` is the credential's end, for connections that outlive a request.
    """

    client_id: str | None = None
    subject: str | None = None
    roles: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    grid_code: str | None = None
    grid_path: str | None = None
    expires_at: datetime | None = None
    issuer: str | None = None  # the verified token's `iss` (the hub's, or a trusted issuer's)


# A grid path no grid has: confines a caller whose grid is unknown to nobody.
NO_GRID = "~/"


class GridPaths:
    """Grid code → materialised path, cached: the grid tree changes rarely, tokens often."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._paths: dict[str, str] = {}

    async def path_of(self, code: str) -> str | None:
        path = self._paths.get(code)
        if path is None:
            async with self._engine.connect() as connection:
                path = await connection.scalar(select(Grid.path).where(Grid.code == code))
            if path is not None:
                self._paths[code] = path
        return path


async def caller_from_claims(
    claims: AccessClaims, *, policy: Policy, grid_paths: GridPaths
) -> Caller:
    """The caller's scopes are the verified token's (the verifier already cut them down to what
    its roles may hold); its roles decide the row scope. When any role is grid-scoped,
    resident data is confined to the subtree of the token's grid (nobody's, if unknown).
    """
    roles = [policy.roles[name] for name in claims.roles if name in policy.roles]
    grid_path: str | None = None
    if any(role.row_scope is RowScope.GRID for role in roles):
        grid_path = (await grid_paths.path_of(claims.grid) if claims.grid else None) or NO_GRID
    return Caller(
        client_id=claims.client_id,
        subject=claims.subject,
        roles=tuple(role.name for role in roles),
        scopes=claims.scopes,
        grid_code=claims.grid,
        grid_path=grid_path,
        expires_at=claims.expires_at,
        issuer=claims.issuer,
    )
