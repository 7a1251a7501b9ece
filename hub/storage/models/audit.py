"""Audit tables: hash-chained events (one chain per hub process) and who-saw-whom rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
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
    """One GraphQL request, as the auditors see it; `hash` covers every other column."""

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
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("chain_id", "seq"),)


class AuditResidentAccess(Base):
    """Which event returned which resident: the index behind per-resident access reports.

    Keyed by the event's (chain, seq), which the writer knows before inserting, so a batch
    needs no round trip to learn generated ids.
    """

    __tablename__ = "audit_resident_access"

    chain_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    resident_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        ForeignKeyConstraint(
            ["chain_id", "seq"], ["audit_events.chain_id", "audit_events.seq"], ondelete="CASCADE"
        ),
        Index("ix_audit_resident_access_resident_at", "resident_id", "at"),
    )
