"""Trusted outside OpenID Connect issuers, as a validated configuration.

One schema, two spellings: `HUB_TRUSTED_ISSUERS` holds a JSON list of issuer objects,
`HUB_TRUSTED_ISSUERS_FILE` a TOML file of `[[issuers]]` tables with the same keys (set one,
not both). Per issuer:

    issuer            the `iss` its tokens carry (not the hub's own)
    jwks_uri          its key set: https, or http on a loopback address in dev only
    audience          the `aud` its tokens must carry for the hub
    algorithms        asymmetric signature algorithms only (default RS256, ES256)
    roles_claim       where its tokens name roles: a claim, or a dotted path (default "roles")
    grid_claim        the claim naming the grid of a grid-scoped role (default "grid")
    allowed_roles     hub roles it may grant (default none: its tokens are refused)
    role_map          its role names → hub role names (each target in allowed_roles)
    jwks_cache_min_seconds, jwks_cache_max_seconds
                      bounds on the key set's cache lifetime, which otherwise follows the
                      provider's Cache-Control / Expires (default 60 and 600)
    jwks_refetch_seconds
                      an unknown `kid` refetches the key set at most this often (default 30)

Sign-in to the consoles at the issuer (optional; without `console_client_id` the issuer is
trusted for bearer tokens only, hub/auth/oidc_signin.py):

    name              a short name: the button's path `/login/outside/<name>` and the prefix
                      of the person's subject at the hub, `<name>:<sub>` (letters, digits, -)
    display_name      what the sign-in page's button says (default: `name`)
    console_client_id the hub's client id at the provider (the ID token's `aud`)
    console_client_secret_file, console_client_secret_env
                      where its client secret is (a file, or an environment variable; never
                      inline); neither: a public client (PKCE only)
    console_scopes    scopes asked for (default ["openid"]; add the one that puts the roles
                      and grid claims in the ID token, e.g. "roles")
    discovery_cache_seconds
                      how long the provider's `/.well-known/openid-configuration` is kept
                      (default 3600)

Unknown keys, duplicate issuers, symmetric or `none` algorithms and plain-http key URLs in
production are refused at start-up, as are roles the policy does not define, console
settings without a `name`, a secret file that cannot be read or an unset secret variable, and
console sign-in at a plain-http issuer in production. Every refusal is
an `IssuerConfigError` whose message is one line naming the entry, the key and the fix.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# RFC 7518 §3.1 asymmetric signatures; never "none" nor HS* (RFC 8725 §3.1).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
_LOOPBACK_NAMES = frozenset({"localhost"})
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")


class IssuerConfigError(ValueError):
    """The trusted issuers' configuration is unusable; the message is one line with the fix."""


class TrustedIssuer(BaseModel):
    """An outside OpenID Connect issuer whose access tokens the hub accepts, within limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(min_length=1)
    jwks_uri: str
    audience: str = Field(min_length=1)
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    roles_claim: str = Field(default="roles", min_length=1)
    grid_claim: str = Field(default="grid", min_length=1)
    allowed_roles: tuple[str, ...] = ()
    role_map: dict[str, str] = Field(default_factory=dict)
    jwks_cache_min_seconds: float = Field(default=60.0, ge=0, le=86_400)
    jwks_cache_max_seconds: float = Field(default=600.0, gt=0, le=86_400)
    jwks_refetch_seconds: float | None = Field(default=None, ge=0, le=3_600)
    # Sign-in to the consoles (optional)
    name: str | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    console_client_id: str | None = Field(default=None, min_length=1, max_length=255)
    console_client_secret_file: Path | None = None
    console_client_secret_env: str | None = Field(default=None, min_length=1)
    console_scopes: tuple[str, ...] = ("openid",)
    discovery_cache_seconds: float = Field(default=3600.0, ge=0, le=86_400)

    @field_validator("name")
    @classmethod
    def _short_name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a short name (1-32 letters, digits or -)")
        return value

    @field_validator("console_scopes")
    @classmethod
    def _openid_scope(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in value:
            raise ValueError('must include "openid"')
        return value

    @field_validator("jwks_uri")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{value!r} is not an absolute https URL")
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one algorithm, e.g. RS256")
        for algorithm in value:
            if algorithm not in ASYMMETRIC_ALGORITHMS:
                allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
                raise ValueError(
                    f"{algorithm!r} is not an asymmetric signature algorithm; use one of {allowed}"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TrustedIssuer:
        if self.jwks_cache_min_seconds > self.jwks_cache_max_seconds:
            raise ValueError("jwks_cache_min_seconds is above jwks_cache_max_seconds")
        if self.console_client_id is not None and self.name is None:
            raise ValueError("console_client_id needs a name (the sign-in button's short name)")
        if self.console_client_secret_file is not None and self.console_client_secret_env:
            raise ValueError(
                "set console_client_secret_file or console_client_secret_env, not both"
            )
        secret_given = self.console_client_secret_file or self.console_client_secret_env
        if secret_given and self.console_client_id is None:
            raise ValueError("a console client secret needs console_client_id")
        for name, role in self.role_map.items():
            if role not in self.allowed_roles:
                raise ValueError(
                    f"role_map maps {name!r} to {role!r}, which allowed_roles does not list"
                )
        return self

    @property
    def console(self) -> bool:
        """Whether people may sign in to the consoles at this issuer."""
        return self.console_client_id is not None

    @property
    def button_label(self) -> str:
        return self.display_name or self.name or self.issuer

    @property
    def discovery_url(self) -> str:
        """OpenID Connect Discovery 1.0 §4: the issuer, then the well-known path."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def console_client_secret(self) -> str | None:
        """The client secret at the provider (re-read each time: a rotated file counts);
        None for a public client. `IssuerConfigError` when it cannot be read."""
        if self.console_client_secret_file is not None:
            path = self.console_client_secret_file
            try:
                secret = path.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise IssuerConfigError(
                    f"cannot read console_client_secret_file {path}: {error.strerror or error}"
                ) from None
            if not secret:
                raise IssuerConfigError(f"console_client_secret_file {path} is empty")
            return secret
        if self.console_client_secret_env:
            secret = os.environ.get(self.console_client_secret_env, "").strip()
            if not secret:
                raise IssuerConfigError(
                    f"console_client_secret_env names {self.console_client_secret_env}, "
                    "which is not set"
                )
            return secret
        return None

    def hub_roles(self, names: Iterable[str]) -> list[str]:
        """The hub roles a token's role names grant: mapped, then kept only if allowed."""
        mapped = (self.role_map.get(name, name) for name in names)
        return [role for role in dict.fromkeys(mapped) if role in self.allowed_roles]


def trusted_issuers(
    raw: Sequence[Any] | None, *, file: Path | None, hub_issuer: str, production: bool
) -> tuple[TrustedIssuer, ...]:
    """The configured issuers, validated: from `HUB_TRUSTED_ISSUERS` (`raw`; None when unset)
    or the TOML `file`, never both."""
    if file is not None and raw is not None:
        raise IssuerConfigError("set HUB_TRUSTED_ISSUERS or HUB_TRUSTED_ISSUERS_FILE, not both")
    if file is not None:
        source, entries = str(file), _read_file(file)
    else:
        source, entries = "HUB_TRUSTED_ISSUERS", list(raw or ())
    issuers = tuple(_entry(source, index, entry) for index, entry in enumerate(entries))
    seen: set[str] = set()
    names: set[str] = set()
    for index, trusted in enumerate(issuers):
        where = f"{source}: issuers[{index}]"
        if trusted.issuer in seen:
            raise IssuerConfigError(f"{where}: issuer {trusted.issuer!r} is configured twice")
        if trusted.issuer == hub_issuer:
            raise IssuerConfigError(f"{where}: {trusted.issuer!r} is the hub's own issuer")
        seen.add(trusted.issuer)
        _check_key_url(where, trusted.jwks_uri, production=production)
        if trusted.name is not None:
            if trusted.name in names:
                raise IssuerConfigError(f"{where}.name: {trusted.name!r} is used twice")
            names.add(trusted.name)
        if trusted.console:
            _check_console(where, trusted, production=production)
    return issuers


def _check_console(where: str, trusted: TrustedIssuer, *, production: bool) -> None:
    """Console sign-in: the discovery document's URL as the key URL, and a readable secret."""
    parts = urlsplit(trusted.issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise IssuerConfigError(
            f"{where}.issuer: console sign-in needs an https issuer URL (its discovery document)"
        )
    if parts.scheme == "http" and (production or not _is_loopback(parts.hostname)):
        raise IssuerConfigError(
            f"{where}.issuer: console sign-in needs an https issuer "
            "(plain http only on a loopback address in dev)"
        )
    try:
        trusted.console_client_secret()
    except IssuerConfigError as error:
        raise IssuerConfigError(f"{where}: {error}") from None


def check_roles(issuers: Iterable[TrustedIssuer], roles: Iterable[str]) -> None:
    """Every role an issuer may grant must be one the policy defines."""
    known = frozenset(roles)
    for index, trusted in enumerate(issuers):
        unknown = sorted(set(trusted.allowed_roles) - known)
        if unknown:
            raise IssuerConfigError(
                f"trusted issuer {trusted.issuer!r} (issuers[{index}]): allowed_roles names "
                f"{', '.join(unknown)}, which the policy does not define "
                f"(it defines: {', '.join(sorted(known))})"
            )


def _read_file(path: Path) -> list[Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise IssuerConfigError(f"cannot read {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise IssuerConfigError(f"{path} is not TOML: {error}") from None
    extra = sorted(set(document) - {"issuers"})
    if extra:
        raise IssuerConfigError(f"{path}: unknown key {extra[0]!r}; write [[issuers]] tables")
    entries = document.get("issuers", [])
    if not isinstance(entries, list):
        raise IssuerConfigError(f"{path}: issuers must be [[issuers]] tables")
    return entries


def _entry(source: str, index: int, entry: Any) -> TrustedIssuer:
    where = f"{source}: issuers[{index}]"
    if isinstance(entry, TrustedIssuer):
        return entry
    if not isinstance(entry, Mapping):
        raise IssuerConfigError(f"{where} must be an object of issuer settings")
    try:
        return TrustedIssuer.model_validate(entry)
    except ValidationError as error:
        raise IssuerConfigError(f"{where}{_first_problem(error)}") from None


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    location = ".".join(str(part) for part in problem["loc"])
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        known = ", ".join(TrustedIssuer.model_fields)
        message = f"unknown key (known keys: {known})"
    elif problem["type"] == "missing":
        message = "required"
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f".{location}: {message}{suffix}" if location else f": {message}{suffix}"


def _check_key_url(where: str, url: str, *, production: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return
    if production:
        raise IssuerConfigError(f"{where}.jwks_uri: production fetches keys over https only")
    if not _is_loopback(parts.hostname or ""):
        raise IssuerConfigError(
            f"{where}.jwks_uri: plain http is allowed only on a loopback address in dev"
        )


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_json_issuers(value: str) -> list[Any]:
    """`HUB_TRUSTED_ISSUERS` as JSON: a list of issuer objects."""
    try:
        document = json.loads(value)
    except json.JSONDecodeError as error:
        raise IssuerConfigError(f"HUB_TRUSTED_ISSUERS is not JSON: {error}") from None
    if not isinstance(document, list):
        raise IssuerConfigError("HUB_TRUSTED_ISSUERS must be a JSON list of issuer objects")
    return document
