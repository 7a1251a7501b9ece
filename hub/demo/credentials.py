"""Demo credentials: per shipped role an OAuth client and a staff account, and a query that
role can run with a real sample ID number.

Clients are named `demo:<port> <role>`: a demo revokes only the clients of a previous demo on
its own port, never those of another demo still running. Staff accounts are `demo.clerk`, `demo.worker`, … (one per role),
their passwords kept in `<var>/demo/passwords.json` (mode 0600), so every demo sharing the
database prints passwords that work.
"""

from __future__ import annotations

import json
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.clients import list_clients, register_client, revoke_client
from hub.auth.policy import Policy, RowScope
from hub.auth.users import add_user, list_users
from hub.crypto.columns import ID_NUMBER
from hub.crypto.ring import KeyRing
from hub.crypto.store import field_keys
from hub.storage.models import (
    AssistanceGrant,
    ChronicCondition,
    FamilyDoctorContract,
    Grid,
    HouseholdRegistration,
    Resident,
    SchoolEnrollment,
    SourceRecord,
)
from hub.vocabulary import GridLevel

# role → (purpose, GraphQL document with $idNumber where the role may look residents up)
QUERIES: dict[str, tuple[str, str]] = {
    "grid_worker": ("入户走访", 'query($idNumber: String!) { resident(idNumber: $idNumber) { name age tags household { number } health { familyDoctor { doctorName } } } }'),
    "service_center_clerk": ("办理社会救助", 'query($idNumber: String!) { resident(idNumber: $idNumber) { name idNumber phone address grid { name } socialSecurity { assistanceGrants { assistanceType status } } police { householdRegistration { householdNumber } } } }'),
    "district_dispatcher": ("网格日常管理", "{ residents(first: 5) { totalCount edges { node { name age tags grid { name } } } } }"),
    "health_officer": ("慢病随访", 'query($idNumber: String!) { resident(idNumber: $idNumber) { name health { familyDoctor { doctorName } chronicConditions { condition status } } } }'),
    "social_officer": ("社会救助审核", 'query($idNumber: String!) { resident(idNumber: $idNumber) { name socialSecurity { assistanceGrants { assistanceType monthlyAmount status } } } }'),
    "education_officer": ("入学资格核验", 'query($idNumber: String!) { resident(idNumber: $idNumber) { name education { enrollments { school stage grade } } } }'),
    "police_officer": ("户籍核查", 'query($idNumber: String!) { resident(idNumber: $idNumber) { name police { householdRegistration { householdNumber policeStation } flags { flagType } } } }'),
    "auditor": ("审计检查", "{ auditChainStatus { chainId events verified } auditEvents(first: 5) { totalCount edges { node { at subject purpose outcome residentIds } } } }"),
    "admin": ("系统运维", "{ connectorStreams { connector stream lastRunStatus quarantined } quarantinedRecords(first: 5) { connector stream reason message } }"),
}  # fmt: skip
# role → the department records its sample resident should have
SAMPLE_RECORDS: dict[str, type[SourceRecord]] = {
    "grid_worker": FamilyDoctorContract,
    "service_center_clerk": AssistanceGrant,
    "health_officer": ChronicCondition,
    "social_officer": AssistanceGrant,
    "education_officer": SchoolEnrollment,
    "police_officer": HouseholdRegistration,
}


@dataclass(frozen=True)
class DemoClient:
    role: str
    client_id: str
    client_secret: str
    grid_code: str | None
    id_number: str | None  # a real resident this role may look up (None: the role reads no one)

    @property
    def purpose(self) -> str:
        return QUERIES[self.role][0]

    @property
    def document(self) -> str:
        return QUERIES[self.role][1]

    def body(self) -> dict[str, Any]:
        variables = {"idNumber": self.id_number} if "$idNumber" in self.document else {}
        return {"query": self.document, "variables": variables}

    def curl(self, base_url: str) -> str:
        """Fetch a token, then run the role's query (python3 only extracts the token)."""
        token = (
            f"TOKEN=$(curl -s -u {shlex.quote(self.client_id + ':' + self.client_secret)} "
            f"-d grant_type=client_credentials {base_url}/oauth/token | "
            "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
        )
        body = json.dumps(self.body(), ensure_ascii=False)
        request = (
            f'curl -s {base_url}/graphql -H "Authorization: Bearer $TOKEN" '
            f'-H "X-Request-Purpose: {quote(self.purpose)}" -H "Content-Type: application/json" '
            f"-d {shlex.quote(body)}"
        )
        return f"{token}\n{request}"


@dataclass(frozen=True)
class DemoAccount:
    name: str
    role: str
    grid_code: str | None
    password: str


ACCOUNT_NAMES = {
    "service_center_clerk": "demo.clerk",
    "grid_worker": "demo.worker",
    "district_dispatcher": "demo.dispatcher",
    "health_officer": "demo.health",
    "social_officer": "demo.social",
    "education_officer": "demo.education",
    "police_officer": "demo.police",
}


def account_name(role: str) -> str:
    return ACCOUNT_NAMES.get(role, f"demo.{role}")


def client_prefix(port: int) -> str:
    return f"demo:{port} "


async def _busiest_building(session: AsyncSession) -> tuple[str, str]:
    """The community of the building grid with most residents, and its street: the demo's
    grid-scoped roles (a grid worker acting for the community, a clerk for the street)."""
    count = func.count(Resident.id)
    code = (
        await session.execute(
            select(Resident.grid_code).group_by(Resident.grid_code).order_by(count.desc()).limit(1)
        )
    ).scalar_one()
    path = (await session.execute(select(Grid.path).where(Grid.code == code))).scalar_one()
    levels = dict(
        (await session.execute(select(Grid.level, Grid.code).where(Grid.code.in_(path.split("/")))))
        .tuples()
        .all()
    )
    return levels[GridLevel.COMMUNITY], levels[GridLevel.STREET]


def _grid_of(role: str, policy: Policy, building: str, street: str) -> str | None:
    if policy.roles[role].row_scope is not RowScope.GRID:
        return None
    return building if role == "grid_worker" else street


async def _sample_id_number(
    session: AsyncSession, ring: KeyRing, role: str, grid_code: str | None
) -> str | None:
    """A resident the role may read, with records of the role's department when there are any."""
    if "$idNumber" not in QUERIES.get(role, ("", ""))[1]:
        return None
    query = select(Resident.id_number_encrypted).order_by(Resident.id).limit(1)
    if grid_code is not None:
        path = await session.scalar(select(Grid.path).where(Grid.code == grid_code))
        query = query.where(Resident.grid_path.startswith(path or "~"))
    model = SAMPLE_RECORDS.get(role)
    if model is not None:
        with_records = query.where(Resident.id.in_(select(model.resident_id)))
        found: bytes | None = await session.scalar(with_records)
        if found is not None:
            return ring.open(ID_NUMBER, found)
    sealed: bytes | None = await session.scalar(query)
    return ring.open(ID_NUMBER, sealed) if sealed is not None else None


async def demo_clients(
    sessionmaker: async_sessionmaker[AsyncSession], policy: Policy, *, port: int
) -> list[DemoClient]:
    """Revoke this port's previous demo clients, register fresh ones, pick sample residents."""
    prefix = client_prefix(port)
    ring = await field_keys(sessionmaker.kw["bind"]).ring()
    async with sessionmaker() as session, session.begin():
        for client in await list_clients(session, include_revoked=False):
            if client.name.startswith(prefix):
                await revoke_client(session, client_id=client.client_id)
        building, street = await _busiest_building(session)
        created = []
        for role in policy.roles.values():
            grid = _grid_of(role.name, policy, building, street)
            client, secret = await register_client(
                session, name=prefix + role.name, role=role.name, grid_code=grid, policy=policy
            )
            assert secret is not None
            sample = await _sample_id_number(session, ring, role.name, grid)
            created.append(DemoClient(role.name, client.client_id, secret, grid, sample))
    return created


async def demo_accounts(
    sessionmaker: async_sessionmaker[AsyncSession],
    policy: Policy,
    *,
    passwords_file: Path,
    hasher: PasswordHasher,
) -> list[DemoAccount]:
    """One staff account per role (`demo.<role>`), created once; passwords kept in a file."""
    passwords = _passwords(passwords_file, policy)
    async with sessionmaker() as session, session.begin():
        existing = {user.name for user in await list_users(session)}
        building, street = await _busiest_building(session)
        accounts = []
        for role in policy.roles:
            name = account_name(role)
            grid = _grid_of(role, policy, building, street)
            if name not in existing:
                await add_user(
                    session, name=name, role=role, grid_code=grid, password=passwords[role],
                    policy=policy, hasher=hasher,
                )  # fmt: skip
            accounts.append(DemoAccount(name, role, grid, passwords[role]))
    return accounts


def _passwords(path: Path, policy: Policy) -> dict[str, str]:
    known: dict[str, str] = {}
    if path.exists():
        known = json.loads(path.read_text(encoding="utf-8"))
    missing = [role for role in policy.roles if role not in known]
    if missing:
        known.update({role: "demo-" + secrets.token_urlsafe(9) for role in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(known, indent=2), encoding="utf-8")
    return known
