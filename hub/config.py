"""The hub's one typed configuration, read once at start-up from `HUB_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the hub can be told; tests build it directly, the CLI reads the environment."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    database_url: str = "sqlite+aiosqlite:///./var/hub.db"
    var_dir: Path = Path("./var")
    issuer: str = "http://127.0.0.1:8000"
    policy: Path | None = None
    connectors: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    sql_echo: bool = False
    max_page_size: int = Field(default=500, ge=1)

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @property
    def graphiql(self) -> bool:
        """GraphiQL is a development aid; production serves only the API."""
        return self.is_dev
