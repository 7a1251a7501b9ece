"""Runs Alembic from code, so `hub db upgrade`, the app's readiness check and tests share one path."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from hub.config import Settings

_REPO_ROOT = Path(__file__).resolve().parents[2]
_PACKAGED = Path(__file__).resolve().parents[1] / "_migrations"


def alembic_config(database_url: str, settings: Settings | None = None) -> Config:
    """The Alembic config for the checkout, or for the migrations packaged into the wheel."""
    root = _REPO_ROOT if (_REPO_ROOT / "alembic" / "env.py").exists() else _PACKAGED.parent
    ini = root / "alembic.ini" if root == _REPO_ROOT else _PACKAGED / "alembic.ini"
    config = Config(str(ini))
    config.set_main_option(
        "script_location", str(root / "alembic" if root == _REPO_ROOT else _PACKAGED)
    )
    config.attributes["database_url"] = database_url
    if settings is not None:  # what data migrations need besides the URL (HUB_FIELD_KEY …)
        config.attributes["settings"] = settings
    return config


def upgrade(database_url: str, revision: str = "head", *, settings: Settings | None = None) -> None:
    command.upgrade(alembic_config(database_url, settings), revision)


def downgrade(database_url: str, revision: str, *, settings: Settings | None = None) -> None:
    command.downgrade(alembic_config(database_url, settings), revision)


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
