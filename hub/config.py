"""The hub's one typed configuration, read once at start-up from `HUB_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hub.auth.issuers import TrustedIssuer, parse_json_issuers, trusted_issuers
from hub.crypto.suites import Suite

__all__ = ["Settings", "SettingsError", "TrustedIssuer", "settings_problem"]

DEFAULT_ISSUER = "http://127.0.0.1:8000"


class SettingsError(ValueError):
    """Settings that cannot be used; the message is one line naming the variable and the fix."""


class Settings(BaseSettings):
    """Everything the hub can be told; tests build it directly, the CLI reads the environment."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    database_url: str = "sqlite+aiosqlite:///./var/hub.db"
    var_dir: Path = Path("./var")
    issuer: str = DEFAULT_ISSUER
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
    # PostgreSQL connections each worker's request pool keeps (no overflow beyond it; the
    # audit writer has one more). Sizing: workers × (db_pool_size + 2) ≤ max_connections
    # minus what other clients need (PostgreSQL's default 100: 2 workers at 30, 4 at 20).
    db_pool_size: int = Field(default=30, ge=1, le=500)
    # Each worker's cyclic garbage collector (hub/app.py `tune_garbage_collector`): the young
    # generation's threshold (Python's default is 700) and whether what exists once the app
    # has started is frozen out of later collections. README "Performance" has the trade-off.
    gc_threshold: int = Field(default=50_000, ge=100, le=10_000_000)
    gc_freeze: bool = True
    # totalCount of resident lists is kept this long (0: counted on every request).
    count_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    # Grid governance: how often each process looks for cases that just became overdue (to tell
    # subscribers), and how often a websocket's token is checked for expiry and revocation.
    overdue_sweep_seconds: float = Field(default=30.0, gt=0, le=3600)
    websocket_token_check_seconds: float = Field(default=1.0, gt=0, le=60)
    # Outside OpenID Connect issuers whose access tokens the hub accepts (hub/auth/issuers.py):
    # a JSON list in HUB_TRUSTED_ISSUERS, or [[issuers]] tables in HUB_TRUSTED_ISSUERS_FILE.
    trusted_issuers: Annotated[tuple[TrustedIssuer, ...], NoDecode] = ()
    trusted_issuers_file: Path | None = None

    # Field encryption at rest (hub/crypto): the master key (64 hex characters; generated in
    # dev under var_dir, required in prod), the suite of new data keys, and how soon a process
    # sees a data key another process (`hub keys rotate-field-key`) made.
    field_key: SecretStr | None = None
    field_suite: Suite = Suite.AES_256_GCM
    field_keys_refresh_seconds: float = Field(default=5.0, ge=0, le=300)

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

    # Limits (README, "Limits"): every bound a caller can reach, with its default.
    limits_enabled: bool = True  # off only to measure their cost (`make bench`)
    # HTTP, before any GraphQL work
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024)  # all header lines together
    max_header_value_bytes: int = Field(default=16 * 1024, ge=256)  # one header
    max_headers: int = Field(default=64, ge=8)
    max_variables_depth: int = Field(default=16, ge=2)
    allow_get_queries: bool = False
    # The document, while parsing
    max_document_chars: int = Field(default=32 * 1024, ge=256)
    max_tokens: int = Field(default=1000, ge=50)
    max_operations: int = Field(default=8, ge=1)
    max_fragments: int = Field(default=64, ge=0)  # definitions, inline fragments and spreads
    max_directives: int = Field(default=32, ge=0)  # in the whole document
    max_depth: int = Field(default=12, ge=2)
    max_aliases: int = Field(default=30, ge=0)
    max_fields: int = Field(default=500, ge=10)  # field selections in the whole document
    # Static cost, before execution (declared in the SDL with @cost / @listSize)
    max_cost: int = Field(default=10_000, ge=1)
    max_resident_nodes: int = Field(default=500, ge=1)
    max_string_length: int = Field(default=4000, ge=16)  # any string argument (longest free text)
    # Execution and load
    execution_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    max_in_flight: int = Field(default=32, ge=1)  # requests running at once, per worker
    max_queued: int = Field(default=512, ge=0)  # requests waiting for a slot, per worker
    queue_timeout_seconds: float = Field(default=10.0, gt=0)
    # Callers
    anonymous_requests_per_minute: int = Field(default=60, ge=1)  # per address, no token
    forwarded_allow_ips: str = ""  # comma-separated proxy addresses/networks whose XFF counts
    client_secret_key: SecretStr | None = None  # keyed hash of client secrets; required in prod

    @model_validator(mode="before")
    @classmethod
    def _issuers(cls, data: Any) -> Any:
        """Validate the trusted issuers once, with the environment they will run in."""
        if not isinstance(data, dict):
            return data
        given = data.get("trusted_issuers")
        raw = parse_json_issuers(given) if isinstance(given, str) and given.strip() else given
        file = data.get("trusted_issuers_file")
        data["trusted_issuers"] = trusted_issuers(
            None if given is None else list(raw or ()),
            file=Path(file) if file else None,
            hub_issuer=str(data.get("issuer") or DEFAULT_ISSUER),
            production=data.get("env", "dev") == "prod",
        )
        return data

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


def settings_problem(error: ValidationError) -> SettingsError:
    """A one-line reason for settings pydantic refused: the variable, then what is wrong."""
    problem = error.errors()[0]
    cause = (problem.get("ctx") or {}).get("error")
    if isinstance(cause, ValueError) and problem["type"] == "value_error":
        return SettingsError(str(cause))
    name = "HUB_" + str(problem["loc"][0]).upper() if problem["loc"] else "HUB_* settings"
    return SettingsError(f"{name}: {problem['msg']}")
