"""Audit tables: hash-chained events (one chain per hub process), who-saw-whom rows, checkpoints.

On PostgreSQL `audit_events` is partitioned by month on `at` (the partitions live in the
`audit_partitions` schema; hub/audit/partitions.py). A partitioned table's unique keys must
hold the partition key, hence `(chain_id, seq, at)` where `(chain_id, seq)` would do.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.base import Base, UtcDateTime


class AuditChain(Base):
    """A hub process's chain; its head lets `hub audit verify` notice a truncated tail."""

    __tablename__ = "audit_chains"

    chain_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    head_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    """One GraphQL request, as the auditors see it; `hash` covers every other column.

    The primary key is `id` here; on PostgreSQL the partitioned table's is `(id, at)`.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chain_id: Mapped[str] = mapped_column(ForeignKey("audit_chains.chain_id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(255), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    grid_scope: Mapped[str | None] = mapped_column(String(32))
    client_address: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(256))
    end_user: Mapped[str | None] = mapped_column(String(256))
    case_ref: Mapped[str | None] = mapped_column(String(256))
    endpoint: Mapped[str] = mapped_column(String(64))
    operation_type: Mapped[str | None] = mapped_column(String(16))
    operation_name: Mapped[str | None] = mapped_column(String(128), index=True)
    document_hash: Mapped[str | None] = mapped_column(String(64))
    variables: Mapped[dict[str, object]] = mapped_column(JSON)
    resident_ids: Mapped[list[str]] = mapped_column(JSON)
    fields: Mapped[list[str]] = mapped_column(JSON)  # searched as text: LIKE %"Type.field"%
    denied_paths: Mapped[list[str]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    error_codes: Mapped[list[str]] = mapped_column(JSON)
    duration_us: Mapped[int] = mapped_column(BigInteger)
    issuer: Mapped[str | None] = mapped_column(String(255), index=True)
    request_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("chain_id", "seq", "at"),)


class AuditResidentAccess(Base):
    """Which event returned which resident: the index behind per-resident access reports.

    Keyed by the event's (chain, seq), which the writer knows before inserting, so a batch
    needs no round trip to learn generated ids; `at` is the event's. Derived data, checked
    by `hub audit verify` against the events' `resident_ids` in both directions. No foreign
    key: on PostgreSQL one to the partitioned events would be cloned onto every partition
    (and a month could not be detached without first emptying its rows here).
    """

    __tablename__ = "audit_resident_access"

    chain_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    resident_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_audit_resident_access_resident_at", "resident_id", "at"),)


class AuditCheckpoint(Base):
    """A chain's head signed as a JWS (hub/audit/checkpoints.py), also written outside the
    database; `hub audit verify` compares the events with every checkpoint it is given."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chain_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    head_at: Mapped[datetime] = mapped_column(UtcDateTime())
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    kid: Mapped[str] = mapped_column(String(128))
    jws: Mapped[str] = mapped_column(Text)
    jwk: Mapped[dict[str, object]] = mapped_column(JSON)  # public key; trusted only if known

    __table_args__ = (UniqueConstraint("chain_id", "seq"),)
