"""Shared fixtures: a freshly migrated database per test, on SQLite or on PostgreSQL.

The suite runs on SQLite unless `HUB_TEST_DATABASE_URL` names a PostgreSQL server (the
Makefile's PostgreSQL half starts a throwaway cluster and sets it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.config import Settings
from hub.storage import migrations
from hub.storage.base import Base
from hub.storage.session import create_engine, create_sessionmaker

POSTGRES_URL = os.environ.get("HUB_TEST_DATABASE_URL")


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL ' + POSTGRES_URL if POSTGRES_URL else 'SQLite'}"


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


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, var_dir=tmp_path / "var", env="dev")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
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
def is_postgres() -> Iterator[bool]:
    yield bool(POSTGRES_URL)
