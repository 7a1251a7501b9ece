"""The role policy: which scopes a role may hold, which residents it may see, and its limits (TOML).

Per role, besides scopes and row scope: `cost_budget_per_minute` (query cost a client may
spend a minute, a token bucket) and `harvest_quota_per_day` (distinct residents whose PII or
sensitive fields a client may read a day). A `[clients."<client id>"]` table overrides
either for one client. A role that names neither gets `DEFAULT_COST_BUDGET` and no quota.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
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

# Scopes of personal or sensitive data: reading such a field counts towards harvest quotas.
HARVEST_SCOPES = frozenset({"resident:pii", "health:sensitive", "police:sensitive"})

DEFAULT_COST_BUDGET = 60_000  # per minute, for a role that does not name its own


class PolicyError(ValueError):
    """The policy file is unreadable or inconsistent; the message names the file and the fix."""


class RowScope(StrEnum):
    GRID = "grid"
    DISTRICT = "district"
    NONE = "none"


@dataclass(frozen=True)
class Allowance:
    """What a client may spend: query cost per minute, distinct residents' PII per day."""

    cost_budget_per_minute: int = DEFAULT_COST_BUDGET
    harvest_quota_per_day: int | None = None  # None: no quota


@dataclass(frozen=True)
class Role:
    name: str
    scopes: frozenset[str]
    row_scope: RowScope
    description: str = ""
    allowance: Allowance = Allowance()


@dataclass(frozen=True)
class Policy:
    roles: dict[str, Role]
    client_allowances: dict[str, dict[str, int]] = field(default_factory=dict)

    def allowance(self, *, roles: tuple[str, ...], client_id: str | None) -> Allowance:
        """A caller's allowance: its first known role's, with its client's overrides."""
        base = next((self.roles[r].allowance for r in roles if r in self.roles), Allowance())
        override = self.client_allowances.get(client_id or "", {})
        return replace(base, **override) if override else base

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
    clients = document.get("clients", {})
    if not isinstance(clients, dict):
        raise PolicyError(f'policy {source}: clients must be tables [clients."<client id>"]')
    return Policy(
        roles={name: _role(source, name, table) for name, table in roles.items()},
        client_allowances={
            client: _allowance_values(source, f"clients.{client}", table)
            for client, table in clients.items()
        },
    )


_ALLOWANCE_KEYS = ("cost_budget_per_minute", "harvest_quota_per_day")


def _allowance_values(
    source: Path, where: str, table: object, *, only_allowance: bool = True
) -> dict[str, int]:
    if not isinstance(table, dict):
        raise PolicyError(f"policy {source}: {where} must be a table")
    values: dict[str, int] = {}
    for key in _ALLOWANCE_KEYS:
        if key not in table:
            continue
        value = table[key]
        least = 1 if key == "cost_budget_per_minute" else 0
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise PolicyError(f"policy {source}: {where}.{key} must be a whole number >= {least}")
        values[key] = value
    unknown = set(table) - set(_ALLOWANCE_KEYS)
    if only_allowance and unknown:
        raise PolicyError(f"policy {source}: {where} has unknown keys {sorted(unknown)}")
    return values


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
        allowance=Allowance(
            **_allowance_values(source, f"roles.{name}", table, only_allowance=False)
        ),
    )
