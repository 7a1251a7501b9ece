"""The connectors TOML (`HUB_CONNECTORS`), validated by pydantic; errors name the file and key path.

See `connectors/README.md` for the format. Secrets are never in the file: it names the
environment variables that hold them (`client_secret_env = "HEALTH_CLIENT_SECRET"`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from connectors.errors import ConfigError
from connectors.targets import PROVENANCE_FIELDS, TARGETS, ResidentFields

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNION_TAGS = frozenset({"str", "FieldSpec", "function-after[_check(), FieldSpec]"})


def parse_duration(value: object) -> object:
    """Accept `"15m"`, `"1h30m"`, `"2d"`, `"45s"` besides what pydantic takes for a timedelta."""
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match and any(match.groups()):
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(Strict):
    """How one target field is read: from `path` (or the constant `value`), then converted.

    `type` defaults to the target field's type; `formats` lists accepted date formats
    (strptime syntax, tried in order); `codes` is an inline code table or the name of one
    under `[code_tables]`.
    """

    path: str | None = None
    value: str | int | float | bool | None = None
    type: Literal["str", "int", "decimal", "bool", "date", "datetime"] | None = None
    formats: list[str] | None = None
    codes: dict[str, str] | str | None = None
    default: str | int | float | bool | None = None
    trim: bool = True
    halfwidth: bool = True

    @model_validator(mode="after")
    def _path_or_value(self) -> FieldSpec:
        if (self.path is None) == (self.value is None):
            raise ValueError("give exactly one of `path` (where to read) or `value` (a constant)")
        return self


FieldValue = str | FieldSpec


class StreamBase(Strict):
    """What every stream declares: its target, identity role and field mapping."""

    target: str
    creates_residents: bool = False
    batch_size: int = Field(default=500, ge=1, le=10_000)
    fields: dict[str, FieldValue]
    resident: dict[str, FieldValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_mapping(self) -> StreamBase:
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; one of {', '.join(TARGETS)}")
        model = TARGETS[self.target]
        known = set(model.model_fields) | set(PROVENANCE_FIELDS)
        _require_subset("fields", set(self.fields), known)
        missing = [f for f in PROVENANCE_FIELDS if f not in self.fields]
        missing += [
            n for n, f in model.model_fields.items() if f.is_required() and n not in self.fields
        ]
        if missing:
            raise ValueError(f"fields: missing mapping for {', '.join(missing)}")
        _require_subset("resident", set(self.resident), set(ResidentFields.model_fields))
        if self.resident and not self.creates_residents:
            raise ValueError("resident: only a stream with creates_residents = true maps residents")
        if self.creates_residents and "grid_code" not in self.resident:
            raise ValueError("resident: a creating stream must map grid_code (the building grid)")
        return self


def _env_alternatives_of(*keys: str) -> Callable[[Any], Any]:
    """A before-validator: `key_env` given stands in for `key`, so only a lack of both is
    reported, as `key: Field required`."""

    def fill(data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        absent = [k for k in keys if k not in data and f"{k}_env" in data]
        return {**data, **dict.fromkeys(absent)} if absent else data

    return fill


def _one_of(value: object, env: str | None, key: str) -> None:
    """Exactly one of `key` (the value) and `key_env` (the variable that holds it)."""
    if (value is None) == (env is None):
        raise ValueError(f"give exactly one of `{key}` or `{key}_env`")


def _require_subset(where: str, given: set[str], known: set[str]) -> None:
    if unknown := sorted(given - known):
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {sorted(known)}")


# --- http -----------------------------------------------------------------------------------


class PagePagination(Strict):
    style: Literal["page"]
    page_param: str = "page"
    size_param: str = "page_size"
    page_size: int = Field(default=100, ge=1)
    first_page: int = 1


class OffsetPagination(Strict):
    style: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(default=100, ge=1)


class CursorPagination(Strict):
    style: Literal["cursor"]
    cursor_param: str = "cursor"
    next_cursor_path: str = "next_cursor"
    size_param: str | None = None
    page_size: int = Field(default=100, ge=1)


class LinkPagination(Strict):
    """RFC 8288 `Link: <…>; rel="next"` headers."""

    style: Literal["link"]
    size_param: str | None = None
    page_size: int = Field(default=100, ge=1)


Pagination = Annotated[
    PagePagination | OffsetPagination | CursorPagination | LinkPagination,
    Field(discriminator="style"),
]


class BearerAuth(Strict):
    type: Literal["bearer"]
    token_env: str


class ApiKeyAuth(Strict):
    type: Literal["api_key"]
    header: str = "X-API-Key"
    key_env: str


class OAuth2ClientCredentials(Strict):
    """RFC 6749 §4.4; the token is fetched on first use and again when it expires.

    `token_url` and `client_id` may come from the environment instead (`token_url_env`,
    `client_id_env`), like every `*_env` key.
    """

    type: Literal["oauth2"]
    token_url: str | None  # required unless token_url_env names the variable
    token_url_env: str | None = None
    client_id: str | None
    client_id_env: str | None = None
    client_secret_env: str
    scope: str | None = None
    leeway_seconds: int = Field(default=10, ge=0)

    _env_alternatives = model_validator(mode="before")(
        _env_alternatives_of("token_url", "client_id")
    )

    @model_validator(mode="after")
    def _values_or_env(self) -> OAuth2ClientCredentials:
        _one_of(self.token_url, self.token_url_env, "token_url")
        _one_of(self.client_id, self.client_id_env, "client_id")
        return self


Auth = Annotated[BearerAuth | ApiKeyAuth | OAuth2ClientCredentials, Field(discriminator="type")]


class HttpStream(StreamBase):
    path: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    records_path: str = "data"
    pagination: Pagination
    updated_since_param: str | None = None
    # The API lists records in ascending update time: page and offset pagination then ask
    # for each next page as `updated_since=<newest seen>` from the first page, which stays
    # exact while records are edited mid-run (numbered pages shift and skip one).
    ordered_by_updated_at: bool = False

    @model_validator(mode="after")
    def _ordered_needs_since(self) -> HttpStream:
        if self.ordered_by_updated_at and self.updated_since_param is None:
            raise ValueError("ordered_by_updated_at needs updated_since_param")
        return self


class SourceBase(Strict):
    """Shared by every kind: provenance name, schedule and the time zone of naive timestamps."""

    source: str | None = Field(default=None, max_length=64)
    interval: Duration | None = None
    timezone: str = "+08:00"
    enabled: bool = True


class HttpSourceConfig(SourceBase):
    kind: Literal["http"]
    base_url: str | None  # required unless base_url_env names the variable
    base_url_env: str | None = None
    auth: Auth | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)
    retry_after_max_seconds: float = Field(default=120.0, ge=0)
    requests_per_second: float | None = Field(default=None, gt=0)
    streams: dict[str, HttpStream]

    _env_alternatives = model_validator(mode="before")(_env_alternatives_of("base_url"))

    @model_validator(mode="after")
    def _url_or_env(self) -> HttpSourceConfig:
        _one_of(self.base_url, self.base_url_env, "base_url")
        return self


# --- sql ------------------------------------------------------------------------------------


class SqlStream(StreamBase):
    table: str | None = None
    query: str | None = None
    watermark_column: str
    key_column: str

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlStream:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` or `query`")
        return self


class SqlSourceConfig(SourceBase):
    kind: Literal["sql"]
    url: str | None = None
    url_env: str | None = None
    streams: dict[str, SqlStream]

    @model_validator(mode="after")
    def _url_or_env(self) -> SqlSourceConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(
                "give exactly one of `url` or `url_env` (use url_env when it has a password)"
            )
        return self


# --- files ----------------------------------------------------------------------------------


class FilesStream(StreamBase):
    pattern: str
    encoding: str | None = None  # None: detect (GBK, GB18030, UTF-8 with or without BOM)
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | None = None  # XLSX: default the first sheet
    header_row: int = Field(default=1, ge=1)


class FilesSourceConfig(SourceBase):
    kind: Literal["files"]
    directory: Path | None  # required unless directory_env names the variable
    directory_env: str | None = None
    streams: dict[str, FilesStream]

    _env_alternatives = model_validator(mode="before")(_env_alternatives_of("directory"))

    @model_validator(mode="after")
    def _directory_or_env(self) -> FilesSourceConfig:
        _one_of(self.directory, self.directory_env, "directory")
        return self


SourceConfig = Annotated[
    HttpSourceConfig | SqlSourceConfig | FilesSourceConfig, Field(discriminator="kind")
]


class ConnectorsConfig(Strict):
    """The whole file: shared code tables, then one table per connector."""

    code_tables: dict[str, dict[str, str]] = Field(default_factory=dict)
    connectors: dict[str, SourceConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _code_tables_exist(self) -> ConnectorsConfig:
        for name, source in self.connectors.items():
            for stream_name, stream in source.streams.items():
                for field, spec in {**stream.fields, **stream.resident}.items():
                    codes = spec.codes if isinstance(spec, FieldSpec) else None
                    if isinstance(codes, str) and codes not in self.code_tables:
                        where = f"connectors.{name}.streams.{stream_name}.{field}.codes"
                        raise ValueError(f"{where}: no code table {codes!r} under [code_tables]")
        return self


def load_config(path: Path) -> ConnectorsConfig:
    """Read and validate the connectors file; ConfigError lists every problem as `file: key: why`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the connectors file ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse_config(data, origin=str(path))


def parse_config(data: dict[str, Any], *, origin: str = "<connectors>") -> ConnectorsConfig:
    try:
        return ConnectorsConfig.model_validate(data)
    except ValidationError as error:
        problems = [f"{origin}: {_key_path(e['loc'])}: {e['msg']}" for e in error.errors()]
        raise ConfigError("\n".join(problems)) from None


def _key_path(loc: tuple[int | str, ...]) -> str:
    """Dotted key path, without pydantic's union-member tags (`http`, `oauth2`, `FieldSpec` …)."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        after_tagged = index > 0 and loc[index - 1] in ("pagination", "auth")
        kind_tag = index == 2 and loc[0] == "connectors"
        if after_tagged or kind_tag or part in _UNION_TAGS:
            continue
        parts.append(str(part))
    return ".".join(parts) or "(top level)"
