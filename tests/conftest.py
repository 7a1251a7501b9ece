"""Shared fixtures: a freshly migrated database per test, on SQLite or on PostgreSQL.

The suite runs on SQLite unless `HUB_TEST_DATABASE_URL` names a PostgreSQL server (the
Makefile's PostgreSQL half starts a throwaway cluster and sets it).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from hub.app import create_app
from hub.auth.client_secrets import client_secret_key
from hub.auth.clients import register_client
from hub.auth.keys import KeyStore
from hub.auth.policy import DEFAULT_POLICY, Policy, load_policy
from hub.config import Settings
from hub.crypto.columns import MEMBER_PHONE, open_payload, resident_values
from hub.crypto.master import master_key
from hub.crypto.store import attach_field_keys, field_keys
from hub.identity import make_id_number
from hub.storage import migrations
from hub.storage.base import Base
from hub.storage.models import (
    Grid,
    GridMember,
    QuarantinedRecord,
    QuarantineReason,
    Resident,
    SourceRecord,
)
from hub.storage.residents import READ_COLUMNS, ResidentRecord
from hub.storage.session import create_engine, create_sessionmaker
from hub.vocabulary import Gender, GridLevel
from tests.schema.execution.differential import DIFFERENCES, DifferentialExecutor

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL ' + POSTGRES_URL if POSTGRES_URL else 'SQLite'}"


@pytest.fixture(autouse=True)
def _own_var_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings read from the environment (CLI commands, their subprocesses) keep generated
    keys under the test's own var dir — the `settings` fixture's — never under ./var."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))


def open_engine(database_url: str) -> AsyncEngine:
    """An engine with its database's field keys (the test's var dir), as the CLI opens one."""
    engine = create_engine(database_url)
    attach_field_keys(engine, Settings(database_url=database_url))
    return engine


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: a SQLite file to copy, or the PostgreSQL database itself."""
    if POSTGRES_URL:
        migrations.upgrade(POSTGRES_URL)
        return POSTGRES_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrations.upgrade(url)
    return url


async def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
async def database_url(migrated_template: str, tmp_path: Path) -> str:
    """A migrated, empty database for this test alone."""
    if POSTGRES_URL:
        await _truncate_postgres(migrated_template)
        return migrated_template
    template = make_url(migrated_template).database
    assert template is not None
    target = tmp_path / "hub.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


# Every scope, district-wide: for tests of the data itself rather than of access control.
EVERYTHING_ROLE = """

[roles.everything]
description = "test only: every scope, district-wide"
scopes = [
  "resident:basic", "resident:pii", "grid:read", "health:read", "health:sensitive",
  "social:read", "education:read", "police:read", "police:sensitive", "audit:read", "admin",
]
row_scope = "district"
"""

# argon2 at its cheapest: client secrets in tests need no brute-force resistance.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    policy = tmp_path / "policy.toml"
    policy.write_text(DEFAULT_POLICY.read_text("utf-8") + EVERYTHING_ROLE, encoding="utf-8")
    # Counts exact on every request (the count cache has tests of its own).
    return Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        env="dev",
        policy=policy,
        count_cache_seconds=0,
    )


@pytest.fixture
def prod_settings(settings: Settings) -> Settings:
    """The same hub in production: keys made beforehand (prod never generates them)."""
    KeyStore.from_settings(settings).ensure()
    update = {
        "env": "prod",
        "audit_key": SecretStr("a" * 64),
        "field_key": SecretStr(master_key(settings).hex()),  # the dev key, given explicitly
        "client_secret_key": SecretStr(client_secret_key(settings).decode()),  # the dev one too
    }
    return settings.model_copy(update=update)


@pytest.fixture
async def engine(database_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The test's own engine, with the field keys of its database (as the CLI opens one)."""
    engine = create_engine(database_url)
    attach_field_keys(engine, settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def is_postgres() -> bool:
    return bool(POSTGRES_URL)


# --- a small world built by factories --------------------------------------------------------

DISTRICT = "410105"


@dataclass(frozen=True)
class WorldResident:
    """A resident as the test wrote it, in clear; stored sealed, as every writer stores one."""

    id: str
    id_number: str
    name: str
    gender: Gender
    birth_date: date
    phone: str | None
    address: str | None
    grid_code: str
    grid_path: str
    household_id: str | None = None

    async def stored(self, sessionmaker: async_sessionmaker[AsyncSession]) -> Resident:
        ring = await field_keys(sessionmaker.kw["bind"]).ring()
        plain = dataclasses.asdict(self)
        number, phone = plain.pop("id_number"), plain.pop("phone")
        return Resident(**plain, **resident_values(ring, id_number=number, phone=phone))


@dataclass
class World:
    """Factories that insert rows directly, for tests that need a precise handful of them."""

    sessionmaker: async_sessionmaker[AsyncSession]
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def add(self, *rows: Base) -> None:
        async with self.sessionmaker() as session, session.begin():
            session.add_all(rows)

    async def grid(self, code: str, *, name: str | None = None, parent: Grid | None = None) -> Grid:
        levels = {6: GridLevel.DISTRICT, 9: GridLevel.STREET, 12: GridLevel.COMMUNITY}
        grid = Grid(
            code=code,
            name=name or f"网格{code}",
            level=levels.get(len(code), GridLevel.BUILDING),
            parent_code=parent.code if parent else None,
            path=f"{parent.path if parent else ''}{code}/",
        )
        await self.add(grid)
        return grid

    async def tree(self) -> dict[str, Grid]:
        """District → 2 streets → 1 community each → 2 buildings each."""
        grids = {DISTRICT: await self.grid(DISTRICT, name="金水区")}
        for street in ("001", "002"):
            s = await self.grid(DISTRICT + street, parent=grids[DISTRICT])
            c = await self.grid(s.code + "001", parent=s)
            grids[s.code], grids[c.code] = s, c
            for building in ("001", "002"):
                b = await self.grid(c.code + building, parent=c)
                grids[b.code] = b
        return grids

    async def resident(self, grid: Grid, **overrides: Any) -> WorldResident:
        n = next(self.sequence)
        birth = overrides.pop("birth_date", date(1980, 1, 1) + timedelta(days=n))
        gender = overrides.pop("gender", Gender.MALE if n % 2 else Gender.FEMALE)
        sequence = (n * 2 + (1 if gender is Gender.MALE else 0)) % 1000
        values: dict[str, Any] = {
            "id": f"r-{n:06d}",
            "id_number": make_id_number(region=DISTRICT, birth_date=birth, sequence=sequence),
            "name": f"居民{n}",
            "gender": gender,
            "birth_date": birth,
            "phone": f"1380000{n:04d}",
            "address": f"{grid.name}{n}室",
            "grid_code": grid.code,
            "grid_path": grid.path,
        }
        values.update(overrides)
        resident = WorldResident(**values)
        await self.add(await resident.stored(self.sessionmaker))
        return resident

    async def member(self, grid: Grid, *, phone: str | None, **values: Any) -> GridMember:
        """A line of `grid`'s responsibility board; the phone stored sealed."""
        ring = await field_keys(self.sessionmaker.kw["bind"]).ring()
        sealed = ring.seal_optional(MEMBER_PHONE, phone)
        member = GridMember(grid_code=grid.code, phone_encrypted=sealed, **values)
        await self.add(member)
        return member

    async def record(
        self, model: type[SourceRecord], resident: WorldResident, **values: Any
    ) -> Any:
        n = next(self.sequence)
        record = model(
            resident_id=resident.id,
            source=values.pop("source", "test"),
            source_record_id=values.pop("source_record_id", f"rec-{n}"),
            source_updated_at=values.pop("source_updated_at", datetime(2025, 1, 1, tzinfo=UTC)),
            **values,
        )
        await self.add(record)
        return record


async def stored_residents(engine: AsyncEngine) -> dict[str, ResidentRecord]:
    """Every resident of the database as readers see it (identifiers opened), by ID number."""
    ring = await field_keys(engine).ring()
    async with engine.connect() as connection:
        rows = await connection.execute(select(*READ_COLUMNS))
        opened = [ResidentRecord.opened(row, ring) for row in rows]
    return {resident.id_number: resident for resident in opened}


@dataclass(frozen=True)
class QuarantineRow:
    """A quarantined record with its payload opened."""

    id: int
    connector: str
    stream: str
    record_key: str
    source_record_id: str | None
    reason: QuarantineReason
    message: str
    detail: Any
    payload: dict[str, Any]
    attempts: int


async def quarantine_rows(engine: AsyncEngine) -> list[QuarantineRow]:
    ring = await field_keys(engine).ring()
    async with create_sessionmaker(engine)() as session:
        rows = await session.scalars(select(QuarantinedRecord).order_by(QuarantinedRecord.id))
        return [
            QuarantineRow(
                row.id,
                row.connector,
                row.stream,
                row.record_key,
                row.source_record_id,
                row.reason,
                row.message,
                row.detail,
                open_payload(ring, row.payload_encrypted),
                row.attempts,
            )
            for row in rows
        ]


@pytest.fixture
def world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    return World(sessionmaker)


# --- the hub in process ----------------------------------------------------------------------


@dataclass
class GraphQLClient:
    """Posts GraphQL documents to the in-process hub and returns the decoded response."""

    http: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)
    path: str = "/graphql"
    extensions: dict[str, Any] = field(default_factory=dict)  # of the last answer

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, path: str | None = None
    ) -> dict[str, Any]:
        body = {"query": query, "variables": variables or {}}
        response = await self.http.post(path or self.path, json=body, headers=self.headers)
        assert response.headers["content-type"].startswith("application/json"), response.text
        result: dict[str, Any] = response.json()
        # Every answer reports its cost; tests of the data compare `data` and `errors` only.
        self.extensions = result.pop("extensions", {})
        return result


@dataclass
class Clients:
    """Registers OAuth clients and gets their tokens from the hub's real token endpoint."""

    http: httpx.AsyncClient
    sessionmaker: async_sessionmaker[AsyncSession]
    policy: Policy

    async def register(
        self, role: str, *, grid: str | None = None, scopes: list[str] | None = None
    ) -> tuple[str, str]:
        async with self.sessionmaker() as session, session.begin():
            client, secret = await register_client(
                session,
                name=f"test {role}",
                role=role,
                grid_code=grid,
                scopes=scopes,
                policy=self.policy,
                hasher=FAST_HASHER,
            )
        assert secret is not None
        return client.client_id, secret

    async def token(self, role: str, *, grid: str | None = None, scope: str | None = None) -> str:
        client_id, secret = await self.register(role, grid=grid)
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        response = await self.http.post("/oauth/token", data=form, auth=(client_id, secret))
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    async def graphql(
        self,
        role: str,
        *,
        grid: str | None = None,
        scope: str | None = None,
        purpose: str | None = "test",
    ) -> GraphQLClient:
        token = await self.token(role, grid=grid, scope=scope)
        headers = {"Authorization": f"Bearer {token}"}
        if purpose is not None:  # header values are ASCII: Chinese text goes percent-encoded
            headers["X-Request-Purpose"] = quote(purpose)
        return GraphQLClient(self.http, headers)


async def close_app(app: Starlette) -> None:
    """What the lifespan does when a server stops: the audit writer, the limits' own engine,
    the login throttles, the request engine (an app a test builds itself must close all)."""
    if app.state.audit is not None:
        await app.state.audit.writer.stop()
    await app.state.limits.close()
    await app.state.auth.close()
    await app.state.engine.dispose()


@pytest.fixture
async def app(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[Starlette]:
    """The hub in process; every planned query runs on both executors and is compared
    (unless the test is marked `served_executor_only`, e.g. to count its statements)."""
    if request.node.get_closest_marker("served_executor_only") is None:
        monkeypatch.setattr("schema.build.CompiledExecutor", DifferentialExecutor)
    DIFFERENCES.clear()
    app = create_app(settings, password_hasher=FAST_HASHER)
    yield app
    assert DIFFERENCES == [], "the compiled and standard executors answered differently"
    await close_app(app)


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


@pytest.fixture
def clients(
    http: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> Clients:
    return Clients(http, sessionmaker, load_policy(settings.policy))


@pytest.fixture
async def gql(clients: Clients) -> GraphQLClient:
    """A district-wide caller holding every scope, with a purpose."""
    return await clients.graphql("everything")


@pytest.fixture
async def scratch_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty, unmigrated database of its own (a new database on the PostgreSQL server)."""
    if not POSTGRES_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"scratch_{os.getpid()}_{next(_scratch_numbers)}"
    admin = create_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


_scratch_numbers = itertools.count()
