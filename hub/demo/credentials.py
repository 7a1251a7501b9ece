"""Demo credentials: one OAuth client per shipped role, each with a ready-to-paste curl."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.clients import list_clients, register_client, revoke_client
from hub.auth.policy import Policy, RowScope
from hub.storage.models import Grid, Resident
from hub.vocabulary import GridLevel

DEMO_PREFIX = "demo "


@dataclass(frozen=True)
class DemoClient:
    role: str
    client_id: str
    client_secret: str
    grid_code: str | None

    def curl(self, base_url: str, resident_id: str) -> str:
        """Fetch a token, then ask for one resident (the `jq` step only extracts the token)."""
        token = (
            f"TOKEN=$(curl -s -u {shlex.quote(self.client_id + ':' + self.client_secret)} "
            f"-d grant_type=client_credentials {base_url}/oauth/token | "
            "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
        )
        document = (
            f'{{ me {{ roles scopes }} resident(id: "{resident_id}") {{ name grid {{ name }} }} }}'
        )
        query = json.dumps({"query": document}, ensure_ascii=False)
        request = (
            f'curl -s {base_url}/graphql -H "Authorization: Bearer $TOKEN" '
            f'-H "X-Request-Purpose: demo" -H "Content-Type: application/json" -d {shlex.quote(query)}'
        )
        return f"{token}\n{request}"


async def _busiest_building(session: AsyncSession) -> tuple[str, str]:
    """The building grid with most residents, and its street: the demo's grid-scoped roles."""
    count = func.count(Resident.id)
    code = (
        await session.execute(
            select(Resident.grid_code).group_by(Resident.grid_code).order_by(count.desc()).limit(1)
        )
    ).scalar_one()
    path = (await session.execute(select(Grid.path).where(Grid.code == code))).scalar_one()
    street = (
        await session.execute(
            select(Grid.code).where(Grid.level == GridLevel.STREET, Grid.code.in_(path.split("/")))
        )
    ).scalar_one()
    return code, street


async def demo_clients(
    sessionmaker: async_sessionmaker[AsyncSession], policy: Policy
) -> tuple[list[DemoClient], str]:
    """Revoke the previous demo clients, register fresh ones; also a resident to ask about."""
    async with sessionmaker() as session, session.begin():
        for client in await list_clients(session, include_revoked=False):
            if client.name.startswith(DEMO_PREFIX):
                await revoke_client(session, client_id=client.client_id)
        building, street = await _busiest_building(session)
        resident_id = (
            await session.execute(
                select(Resident.id).where(Resident.grid_code == building).limit(1)
            )
        ).scalar_one()
        created = []
        for role in policy.roles.values():
            grid = None
            if role.row_scope is RowScope.GRID:
                grid = building if role.name == "grid_worker" else street
            client, secret = await register_client(
                session, name=DEMO_PREFIX + role.name, role=role.name, grid_code=grid, policy=policy
            )
            assert secret is not None
            created.append(DemoClient(role.name, client.client_id, secret, grid))
    return created, resident_id
