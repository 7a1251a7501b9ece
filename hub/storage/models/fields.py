"""Field encryption keys: the data keys that seal ID and phone numbers, wrapped by the master
key (`HUB_FIELD_KEY`), with where each stands in its life (hub/crypto/rotation.py)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.base import Base, UtcDateTime, enum_type, utcnow


class FieldKeyState(StrEnum):
    """PENDING: known to every process, sealing nothing yet · CURRENT: seals and indexes new
    values · PREVIOUS: rows may still be sealed with it (a rotation is re-sealing them) ·
    RETIRED: no row uses it; it still opens a straggler, but lookups no longer index with it."""

    PENDING = "PENDING"
    CURRENT = "CURRENT"
    PREVIOUS = "PREVIOUS"
    RETIRED = "RETIRED"


class FieldKey(Base):
    __tablename__ = "field_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    suite: Mapped[str] = mapped_column(String(32))
    state: Mapped[FieldKeyState] = mapped_column(enum_type(FieldKeyState))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        # One key seals at a time, and one rotation runs at a time.
        Index(
            "uq_field_keys_current",
            "state",
            unique=True,
            sqlite_where=text("state = 'CURRENT'"),
            postgresql_where=text("state = 'CURRENT'"),
        ),
        Index(
            "uq_field_keys_pending",
            "state",
            unique=True,
            sqlite_where=text("state = 'PENDING'"),
            postgresql_where=text("state = 'PENDING'"),
        ),
    )
