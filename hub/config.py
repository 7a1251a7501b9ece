"""The hub's one typed configuration, read once at start-up from `HUB_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrustedIssuer(BaseModel):
    """An external OpenID Connect issuer; its tokens map `roles_claim` onto hub roles."""

    issuer: str
    jwks_uri: str
    audience: str
    roles_claim: str = "roles"
    grid_claim: str = "grid"
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])


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

    # OAuth 2.0 / tokens
    audience: str = "gridhub"
    keys_dir: Path | None = None  # signing keys; default: <var_dir>/keys
    token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    token_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Revocations made by another process (worker, CLI) are honoured within this many seconds.
    revocation_refresh_seconds: float = Field(default=5.0, ge=0, le=300)
    # totalCount of resident lists is kept this long (0: counted on every request).
    count_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    # External OpenID Connect issuers whose access tokens the hub accepts, as JSON:
    # [{"issuer": "...", "jwks_uri": "...", "audience": "...", "roles_claim": "roles"}]
    trusted_issuers: list[TrustedIssuer] = Field(default_factory=list)

    # People at the consoles (staff accounts, `hub users`)
    session_idle_seconds: int = Field(default=1800, ge=1, le=86_400)  # unused this long: ended
    session_max_seconds: int = Field(default=43_200, ge=60, le=7 * 86_400)  # whatever the use
    login_max_failures: int = Field(default=5, ge=1, le=100)  # wrong passwords in a row …
    login_lockout_seconds: int = Field(default=900, ge=1, le=86_400)  # … lock the account this long

    # Audit trail
    audit_enabled: bool = True  # off only to measure its cost (`make bench`)
    audit_key: SecretStr | None = None  # HMAC key for redacted values; required in prod
    audit_max_batch: int = Field(default=500, ge=1)
    # Signed checkpoints of each chain's head (hub/audit/checkpointer.py): every N events or
    # T seconds, to the database, to a file or folder outside it, and to an optional witness.
    audit_checkpoint_events: int = Field(default=1000, ge=1)
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0)
    audit_checkpoint_dir: Path | None = None  # default: <var_dir>/audit-checkpoints/
    audit_witness_url: str | None = None

    @property
    def signing_keys_dir(self) -> Path:
        return self.keys_dir or self.var_dir / "keys"

    @property
    def audit_checkpoint_path(self) -> Path:
        """A folder (one file per day) or, when the name has a suffix, one file."""
        return self.audit_checkpoint_dir or self.var_dir / "audit-checkpoints"

    @property
    def is_dev(self) -> bool:
        return self.env == "dev"

    @property
    def graphiql(self) -> bool:
        """GraphiQL is a development aid; production serves only the API."""
        return self.is_dev
