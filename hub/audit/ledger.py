"""The access ledger: what one request was allowed, refused and given — the audit's only input.

One ledger per GraphQL request, held by its context. Executors record into it as they
decide and build the response, and nothing else does; the audit event is made from it.
Exactly when each entry is recorded:

- `allowed(coordinate)`: a protected field (one whose schema declares `@requiresScopes`)
  passed its access rule and its value is being produced for the caller. Once per
  coordinate (`Type.field`), however many times the field resolves.
- `refused(path, code)`: a field, or an argument of it, was refused (`FORBIDDEN`,
  `PURPOSE_REQUIRED`, …); the response holds null at `path`. Once per refused path.
- `returned(resident_id)`: an object of type `Resident` was completed into the response,
  whatever fields were selected on it. A resident outside the caller's row scope is never
  completed, so never recorded. Once per resident.

Comparing two ledgers compares what two executors did, not only what they answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Refusal:
    path: tuple[str | int, ...]
    code: str

    @property
    def dotted(self) -> str:
        return ".".join(map(str, self.path))


@dataclass
class AccessLedger:
    """Allowed coordinates, refusals in the order made, and residents returned."""

    allowed_fields: set[str] = field(default_factory=set)
    refusals: list[Refusal] = field(default_factory=list)
    resident_ids: set[str] = field(default_factory=set)

    def allowed(self, coordinate: str) -> None:
        self.allowed_fields.add(coordinate)

    def refused(self, path: Sequence[str | int], code: str) -> None:
        self.refusals.append(Refusal(tuple(path), code))

    def returned(self, resident_id: str) -> None:
        self.resident_ids.add(resident_id)

    def returned_all(self, resident_ids: Iterable[str]) -> None:
        self.resident_ids.update(resident_ids)

    @property
    def denied_paths(self) -> list[str]:
        """Refused paths as the audit event stores them (`resident.police`), in path order
        (list indices numerically), whatever order an executor refused them in."""
        ordered = sorted(self.refusals, key=lambda r: [(isinstance(p, str), p) for p in r.path])
        return [refusal.dotted for refusal in ordered]

    def summary(self) -> tuple[list[str], list[str], list[str]]:
        """(allowed coordinates, denied paths, resident ids), each in a stable order."""
        return sorted(self.allowed_fields), self.denied_paths, sorted(self.resident_ids)
