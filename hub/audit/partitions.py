"""Monthly partitions of `audit_events` on PostgreSQL, created ahead of the months they hold.

The table is partitioned by range on `at` (migration ed411f06da84); each month is a table
`audit_partitions.audit_events_YYYY_MM`, and a default partition catches anything no month
holds, so an insert never fails for want of a partition. The audit writer creates the
current month and the next `AHEAD_MONTHS` when its chain starts and again when a batch
enters a new month — off the request path, at most once a month per process. Creating a
month fails if the default partition already holds rows of it; that is logged, and the
rows stay in the default partition (queried and verified like any other).

Archiving a month (README, "Audit trail") detaches and drops its table; SQLite has no
partitions and archives with `DELETE`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import TextClause, text

SCHEMA = "audit_partitions"
AHEAD_MONTHS = 2


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"audit_events_{month:%Y_%m}"


def create_month(month: datetime) -> TextClause:
    return text(
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{partition_name(month)} PARTITION OF audit_events "
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
    )


class PartitionKeeper:
    """Knows when months must be created: for PostgreSQL only, once per month entered."""

    def __init__(self, dialect_name: str) -> None:
        self.enabled = dialect_name == "postgresql"
        self._ensured: datetime | None = None

    def due(self, at: datetime) -> bool:
        return self.enabled and month_start(at) != self._ensured

    def statements(self, at: datetime) -> list[TextClause]:
        """The months from `at`'s to `AHEAD_MONTHS` later; marks them done."""
        month = self._ensured = month_start(at)
        statements = []
        for _ in range(AHEAD_MONTHS + 1):
            statements.append(create_month(month))
            month = next_month(month)
        return statements
