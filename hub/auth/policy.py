"""The role policy: which scopes a role may hold and which residents it may see (TOML)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

DEFAULT_POLICY = Path(__file__).with_name("policy.toml")

# Every scope the hub knows; a policy naming another is refused at start-up.
KNOWN_SCOPES = frozenset(
    {
        "resident:basic",
        "resident:pii",
        "grid:read",
        "health:read",
        "health:sensitive",
        "social:read",
        "education:read",
        "police:read",
        "police:sensitive",
        "audit:read",
        "admin",
        "cases:read",
        "cases:write",
        "visits:write",
        "kpi:read",
        "schema:read",
    }
)

# Scopes that grant no resident data; requests using only these need no purpose.
NON_RESIDENT_SCOPES = frozenset({"grid:read", "audit:read", "admin", "kpi:read", "schema:read"})


class PolicyError(ValueError):
    """The policy file is unreadable or inconsistent; the message names the file and the fix."""


class RowScope(StrEnum):
    GRID = "grid"
    DISTRICT = "district"
    NONE = "none"


@dataclass(frozen=True)
class Role:
    name: str
    scopes: frozenset[str]
    row_scope: RowScope
    description: str = ""


@dataclass(frozen=True)
class Policy:
    roles: dict[str, Role]

    def role(self, name: str) -> Role:
        try:
            return self.roles[name]
        except KeyError:
            known = ", ".join(sorted(self.roles))
            raise PolicyError(f"unknown role {name!r}; the policy defines: {known}") from None


def load_policy(path: Path | None = None) -> Policy:
    """Read and check a policy file (the shipped one when `path` is None)."""
    source = path or DEFAULT_POLICY
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PolicyError(f"cannot read policy {source}: {error}") from error
    roles = document.get("roles")
    if not isinstance(roles, dict) or not roles:
        raise PolicyError(f"policy {source} defines no [roles.NAME] tables")
    return Policy(roles={name: _role(source, name, table) for name, table in roles.items()})


def _role(source: Path, name: str, table: object) -> Role:
    if not isinstance(table, dict):
        raise PolicyError(f"policy {source}: roles.{name} must be a table")
    scopes = frozenset(table.get("scopes", ()))
    unknown = scopes - KNOWN_SCOPES
    if unknown:
        raise PolicyError(f"policy {source}: roles.{name} names unknown scopes {sorted(unknown)}")
    try:
        row_scope = RowScope(table.get("row_scope", ""))
    except ValueError:
        allowed = ", ".join(scope.value for scope in RowScope)
        raise PolicyError(
            f"policy {source}: roles.{name}.row_scope must be one of {allowed}"
        ) from None
    return Role(
        name=name,
        scopes=scopes,
        row_scope=row_scope,
        description=str(table.get("description", "")),
    )
