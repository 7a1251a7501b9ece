"""Connector state: stream cursors, runs and the quarantine of refused records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.base import Base, UtcDateTime, enum_type, utcnow


class RunStatus(StrEnum):
    """How a connector run ended; RUNNING rows left by a killed process are closed as FAILED."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # another replica held the stream's lock


class QuarantineReason(StrEnum):
    """Why a record was refused; each names what must change before a retry can succeed."""

    INVALID_ID_NUMBER = "INVALID_ID_NUMBER"  # detail: the IdNumberReason
    UNMATCHED_RESIDENT = "UNMATCHED_RESIDENT"  # no resident with that number (yet)
    SCHEMA_ERROR = "SCHEMA_ERROR"  # detail: pydantic-style field errors (conversion, range)
    CONFLICT = "CONFLICT"  # the record contradicts what the hub holds
    FUTURE_TIMESTAMP = "FUTURE_TIMESTAMP"  # updated after the run started: a wrong clock or date
    UNREADABLE = "UNREADABLE"  # a row or item that could not be decoded or parsed (detail: where)
    WRITE_ERROR = "WRITE_ERROR"  # the database refused the record alone (detail: its error)


class ConnectorState(Base):
    """A stream's cursor; written in the same transaction as the batch it covers."""

    __tablename__ = "connector_state"

    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ConnectorRun(Base):
    """One run of one stream, with its counts (read = inserted + updated + unchanged + quarantined)."""

    __tablename__ = "connector_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus))
    full: Mapped[bool] = mapped_column(default=False)
    cursor_before: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    cursor_after: Mapped[dict[str, object] | None] = mapped_column(JSON(none_as_null=True))
    read: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    # quarantined per QuarantineReason, e.g. {"SCHEMA_ERROR": 3, "UNMATCHED_RESIDENT": 2}
    reasons: Mapped[dict[str, int] | None] = mapped_column(JSON(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_connector_runs_stream_started", "connector", "stream", "started_at"),
    )


class QuarantinedRecord(Base):
    """A refused record with its raw payload; one row per (connector, stream, record_key).

    `record_key` is the source record id when the payload yields one, else `sha256:<payload hash>`,
    so re-reading the same bad record updates its row instead of adding another.
    """

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(String(128))
    source_record_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[QuarantineReason] = mapped_column(enum_type(QuarantineReason), index=True)
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[object | None] = mapped_column(JSON(none_as_null=True))
    # The raw record, sealed (hub/crypto): department payloads carry ID and phone numbers.
    payload_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("connector", "stream", "record_key"),)
