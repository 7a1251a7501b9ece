"""audit checkpoints, issuer and request count, monthly partitions on PostgreSQL

Adds `audit_checkpoints` (signed chain heads), `audit_events.issuer` and
`audit_events.request_count`, and widens the events' unique key to `(chain_id, seq, at)`,
so that on PostgreSQL `audit_events` can become a table partitioned by month on `at`, its
partitions in the schema `audit_partitions`. The resident access index loses its foreign
key to the events (`hub audit verify` checks it against them instead): PostgreSQL would
clone it onto every partition. Existing events are copied into the partitioned table, never dropped;
their hashes do not cover the new columns while those hold their defaults, so they keep
verifying. SQLite stays unpartitioned.

Downgrade copies the events back into a plain table and drops the new columns and the
checkpoints (events that used the new columns then no longer verify).

Revision ID: ed411f06da84
Revises: 2e8daf16e31d
Create Date: 2026-12-01 02:40:00.000000+00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

import hub.storage.base
from alembic import op

revision: str = "ed411f06da84"
down_revision: str | None = "2e8daf16e31d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONS = "audit_partitions"
ACCESS_FK = "fk_audit_resident_access_chain_id_audit_events"
INDEXED = ("at", "client_id", "operation_name", "outcome", "subject")
# Columns of the first release, in table order (what both layouts share).
OLD_COLUMNS = (
    "id, chain_id, seq, at, request_id, client_id, subject, roles, scopes, grid_scope,"
    " client_address, purpose, end_user, case_ref, endpoint, operation_type, operation_name,"
    " document_hash, variables, resident_ids, fields, denied_paths, outcome, error_codes,"
    " duration_us, prev_hash, hash"
)


def _event_columns(*, added: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column(
            "id",
            sa.BigInteger(),
            server_default=sa.text("nextval('audit_events_id_seq')"),
            nullable=False,
        ),
        sa.Column("chain_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("grid_scope", sa.String(length=32), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.String(length=256), nullable=True),
        sa.Column("end_user", sa.String(length=256), nullable=True),
        sa.Column("case_ref", sa.String(length=256), nullable=True),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("operation_type", sa.String(length=16), nullable=True),
        sa.Column("operation_name", sa.String(length=128), nullable=True),
        sa.Column("document_hash", sa.String(length=64), nullable=True),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("resident_ids", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("denied_paths", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_codes", sa.JSON(), nullable=False),
        sa.Column("duration_us", sa.BigInteger(), nullable=False),
    ]
    if added:
        columns += [
            sa.Column("issuer", sa.String(length=255), nullable=True),
            sa.Column("request_count", sa.Integer(), server_default="1", nullable=False),
        ]
    return [
        *columns,
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
    ]


def _next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def _create_partitions(first: datetime, last: datetime) -> None:
    """A default partition (an insert never fails) and one per month from `first` to `last`."""
    op.execute(f"CREATE TABLE {PARTITIONS}.audit_events_default PARTITION OF audit_events DEFAULT")
    month = datetime(first.year, first.month, 1, tzinfo=UTC)
    while month <= last:
        op.execute(
            f"CREATE TABLE {PARTITIONS}.audit_events_{month:%Y_%m} PARTITION OF audit_events "
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_next_month(month).isoformat()}')"
        )
        month = _next_month(month)


def _create_checkpoints() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("head_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("signed_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(length=128), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("jwk", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("chain_id", "seq", name=op.f("uq_audit_checkpoints_chain_id_seq")),
    )
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_checkpoints_signed_at"), ["signed_at"], unique=False
        )


def _access_foreign_key(*columns: str) -> None:
    with op.batch_alter_table("audit_resident_access", schema=None) as batch_op:
        batch_op.create_foreign_key(
            ACCESS_FK, "audit_events", list(columns), list(columns), ondelete="CASCADE"
        )


def _drop_access_foreign_key() -> None:
    # First, on SQLite too: dropping a table that is still referenced would cascade.
    with op.batch_alter_table("audit_resident_access", schema=None) as batch_op:
        batch_op.drop_constraint(ACCESS_FK, type_="foreignkey")


def upgrade() -> None:
    _create_checkpoints()
    _drop_access_foreign_key()
    if op.get_bind().dialect.name == "postgresql":
        _partition_events()
    else:
        with op.batch_alter_table("audit_events", schema=None) as batch_op:
            batch_op.add_column(sa.Column("issuer", sa.String(length=255), nullable=True))
            batch_op.add_column(
                sa.Column("request_count", sa.Integer(), server_default="1", nullable=False)
            )
            batch_op.drop_constraint("uq_audit_events_chain_id_seq", type_="unique")
            batch_op.create_unique_constraint(
                batch_op.f("uq_audit_events_chain_id_seq_at"), ["chain_id", "seq", "at"]
            )
            batch_op.create_index(batch_op.f("ix_audit_events_issuer"), ["issuer"], unique=False)


def _set_aside_events() -> None:
    """Rename the events table and free the names its constraints and indexes hold."""
    op.execute("ALTER TABLE audit_events RENAME TO audit_events_set_aside")
    op.execute(
        "ALTER TABLE audit_events_set_aside RENAME CONSTRAINT pk_audit_events TO pk_set_aside"
    )
    for name in (*INDEXED, "issuer"):
        op.execute(f"DROP INDEX IF EXISTS ix_audit_events_{name}")
    op.execute("ALTER SEQUENCE audit_events_id_seq OWNED BY NONE")


def _index_events(*names: str) -> None:
    for name in names:
        op.create_index(f"ix_audit_events_{name}", "audit_events", [name], unique=False)


def _finish_events(copy_columns: str) -> None:
    op.execute(
        f"INSERT INTO audit_events ({copy_columns}) "
        f"SELECT {copy_columns} FROM audit_events_set_aside"
    )
    op.execute("DROP TABLE audit_events_set_aside")
    op.execute("ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id")


def _partition_events() -> None:
    bind = op.get_bind()
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {PARTITIONS}")
    _set_aside_events()
    op.create_table(
        "audit_events",
        *_event_columns(added=True),
        sa.ForeignKeyConstraint(
            ["chain_id"],
            ["audit_chains.chain_id"],
            name=op.f("fk_audit_events_chain_id_audit_chains"),
        ),
        sa.PrimaryKeyConstraint("id", "at", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("chain_id", "seq", "at", name=op.f("uq_audit_events_chain_id_seq_at")),
        postgresql_partition_by="RANGE (at)",
    )
    _index_events(*INDEXED, "issuer")
    first, last = bind.execute(sa.text("SELECT min(at), max(at) FROM audit_events_set_aside")).one()
    now = datetime.now(UTC)
    ahead = _next_month(_next_month(now))  # the hub creates later months as they come near
    _create_partitions(min(first or now, now), max(last or now, ahead))
    _finish_events(OLD_COLUMNS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _set_aside_events()
        op.execute(
            "ALTER TABLE audit_events_set_aside DROP CONSTRAINT uq_audit_events_chain_id_seq_at"
        )
        op.create_table(
            "audit_events",
            *_event_columns(added=False),
            sa.ForeignKeyConstraint(
                ["chain_id"],
                ["audit_chains.chain_id"],
                name=op.f("fk_audit_events_chain_id_audit_chains"),
            ),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
            sa.UniqueConstraint("chain_id", "seq", name=op.f("uq_audit_events_chain_id_seq")),
        )
        _index_events(*INDEXED)
        _finish_events(OLD_COLUMNS)
        op.execute(f"DROP SCHEMA IF EXISTS {PARTITIONS} CASCADE")
    else:
        with op.batch_alter_table("audit_events", schema=None) as batch_op:
            batch_op.drop_index(batch_op.f("ix_audit_events_issuer"))
            batch_op.drop_constraint("uq_audit_events_chain_id_seq_at", type_="unique")
            batch_op.create_unique_constraint(
                batch_op.f("uq_audit_events_chain_id_seq"), ["chain_id", "seq"]
            )
            batch_op.drop_column("request_count")
            batch_op.drop_column("issuer")
    _access_foreign_key("chain_id", "seq")
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoints_signed_at"))
    op.drop_table("audit_checkpoints")
