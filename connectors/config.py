"""The connectors TOML (`HUB_CONNECTORS`), validated by pydantic; errors name the file and key path.

See `connectors/README.md` for the format. Secrets are never in the file: it names the
environment variables that hold them (`client_secret_env = "HEALTH_CLIENT_SECRET"`).
`parse_config` reports every problem of a file at once, each as `file: key.path: message`
(see `connectors/config_errors.py`).
"""

from __future__ import annotations

import codecs
import re
import tomllib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.config_errors import MappingProblemsError, mapping_problems, problems_of
from connectors.config_values import Duration, Fraction, Size
from connectors.config_values import parse_duration as parse_duration  # re-exported
from connectors.errors import ConfigError


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

    @model_validator(mode="before")
    @classmethod
    def _a_path_alone(cls, data: Any) -> Any:
        """`field = "path"` is short for `field = { path = "path" }`."""
        return {"path": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _path_or_value(self) -> FieldSpec:
        if (self.path is None) == (self.value is None):
            raise ValueError("give exactly one of `path` (where to read) or `value` (a constant)")
        return self


FieldValue = str | FieldSpec


class StreamBase(Strict):
    """What every stream declares: its target, identity role and field mapping.

    A run fails (and commits nothing of the batch at hand) when records are rejected for
    mapping reasons beyond `max_rejected_batch` of one batch or `max_rejected_run` of the
    run so far, once at least `min_rejected` such records were seen; see hub/sync/limits.py.
    """

    target: str
    creates_residents: bool = False
    batch_size: int = Field(default=500, ge=1, le=10_000)
    fields: dict[str, FieldSpec]
    resident: dict[str, FieldSpec] = Field(default_factory=dict)
    max_rejected_batch: Fraction = 0.5
    max_rejected_run: Fraction = 0.2
    min_rejected: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _check_mapping(self) -> StreamBase:
        raw = {
            "target": self.target, "fields": self.fields, "resident": self.resident,
            "creates_residents": self.creates_residents,
        }  # fmt: skip
        if problems := mapping_problems(raw):
            raise MappingProblemsError(problems)
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
    # false: the API compares `updated > since`; the hub then asks from
    # `updated_since_overlap` earlier, so records sharing the watermark's instant still arrive
    updated_since_inclusive: bool = True
    updated_since_overlap: Duration = timedelta(seconds=1)
    # re-read this far behind the watermark, for sources whose rows arrive late
    lookback: Duration | None = None
    # The API lists records in ascending update time: page and offset pagination then ask
    # for each next page as `updated_since=<newest seen>` from the first page, which stays
    # exact while records are edited mid-run (numbered pages shift and skip one).
    ordered_by_updated_at: bool = False
    max_empty_pages: int = Field(default=5, ge=1)  # in a row, each with a next page: a loop

    @field_validator("path")
    @classmethod
    def _a_path_on_the_base_url(cls, path: str) -> str:
        if "://" in path or path.startswith("//"):
            raise ValueError("give a path on base_url (`/api/records`), not a whole URL")
        return path

    @model_validator(mode="after")
    def _ordered_needs_since(self) -> HttpStream:
        if self.ordered_by_updated_at and self.updated_since_param is None:
            raise ValueError("ordered_by_updated_at needs updated_since_param")
        return self


class SourceBase(Strict):
    """Shared by every kind: provenance name, schedule and the time zone of naive timestamps.

    A record updated later than the run's start plus `future_tolerance` (clocks differ a
    little) is quarantined as FUTURE_TIMESTAMP and never moves a watermark.
    """

    source: str | None = Field(default=None, max_length=64)
    interval: Duration | None = None
    timezone: str = "+08:00"
    enabled: bool = True
    future_tolerance: Duration = timedelta(minutes=5)

    @field_validator("timezone")
    @classmethod
    def _an_offset(cls, timezone: str) -> str:
        if not re.fullmatch(r"[+-]\d{1,2}(:\d{2})?", timezone):
            raise ValueError(f"expected a UTC offset such as +08:00, got {timezone!r}")
        return timezone


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
    max_download_size: Size = 16 << 20  # bytes of one response as sent (compressed)
    max_response_size: Size = 16 << 20  # bytes of one response once decompressed
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
    lookback: Duration | None = None  # re-read this far behind the watermark (a time column)

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlStream:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` or `query`")
        return self


class SqlSourceConfig(SourceBase):
    kind: Literal["sql"]
    url: str | None = None
    url_env: str | None = None
    statement_timeout_seconds: float = Field(default=60.0, gt=0)
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
    encoding: str | None = None  # None: detect (UTF-8/16 BOM, UTF-8, GB18030, …); set: always used
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | None = None  # XLSX: default the first sheet
    header_row: int = Field(default=1, ge=1)
    max_row_size: Size = 1 << 20  # characters of one CSV line (and field)

    @field_validator("encoding")
    @classmethod
    def _a_known_encoding(cls, encoding: str | None) -> str | None:
        if encoding is not None:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ValueError(f"unknown encoding {encoding!r} (e.g. gb18030, utf-8)") from None
        return encoding


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
        problems = []
        for name, source in self.connectors.items():
            for stream_name, stream in source.streams.items():
                for section in ("fields", "resident"):
                    for field, spec in getattr(stream, section).items():
                        if isinstance(spec.codes, str) and spec.codes not in self.code_tables:
                            where = f"connectors.{name}.streams.{stream_name}.{section}.{field}"
                            message = f"no code table {spec.codes!r} under [code_tables]"
                            problems.append((f"{where}.codes", message))
        if problems:
            raise MappingProblemsError(problems)
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
    """The validated file; ConfigError lists every problem found, one `origin: key: why` a line."""
    try:
        return ConnectorsConfig.model_validate(data)
    except ValidationError as error:
        problems = problems_of(error, data, known_keys=_known_keys())
    raise ConfigError("\n".join(f"{origin}: {path}: {why}" for path, why in problems))


def _known_keys() -> set[str]:
    """Every key the file format has, for "did you mean" suggestions."""
    keys: set[str] = set()
    pending: list[type[BaseModel]] = [Strict]
    while pending:
        model = pending.pop()
        keys |= set(model.model_fields)
        pending += model.__subclasses__()
    return keys
