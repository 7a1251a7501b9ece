"""The grid tree, households, residents and their tags."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.storage.base import Base, UtcDateTime, enum_type, path_type, utcnow
from hub.vocabulary import Gender, GridLevel, GridPost, MemberKind, ResidentTag


class Grid(Base):
    """A node of the district grid; `path` is the materialised ancestry (`410105/410105001/…/`)."""

    __tablename__ = "grids"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[GridLevel] = mapped_column(enum_type(GridLevel))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("grids.code", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(path_type(), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("path LIKE '%/'", name="path_ends_with_slash"),
        Index("ix_grids_level_parent", "level", "parent_code"),
    )


class GridMember(Base):
    """One line of a grid's responsibility board (责任牌)."""

    __tablename__ = "grid_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    post: Mapped[GridPost] = mapped_column(enum_type(GridPost))
    kind: Mapped[MemberKind] = mapped_column(enum_type(MemberKind))
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed (hub/crypto)


class Household(Base):
    """A household (户) living at one address in one building grid."""

    __tablename__ = "households"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    address: Mapped[str] = mapped_column(String(255))
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Resident(Base):
    """A person living in one building grid, keyed by an opaque stable id.

    The ID number and the phone are sealed (hub/crypto): readers get them opened from
    `hub/storage/residents.py`; lookup by ID number goes through `id_number_index`, the
    keyed blind index (unique: one resident per ID number and key).
    """

    __tablename__ = "residents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    id_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_index: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    gender: Mapped[Gender] = mapped_column(enum_type(Gender))
    birth_date: Mapped[date] = mapped_column(Date, index=True)
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    address: Mapped[str | None] = mapped_column(String(255))
    household_id: Mapped[str | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), index=True)
    grid_path: Mapped[str] = mapped_column(path_type())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        # What the database can still check of sealed values: their shape. A sealed ID number
        # is 52 bytes (header 6, nonce 12, 18 characters, tag 16); its blind index 16.
        CheckConstraint("length(id_number_encrypted) = 52", name="id_number_sealed_length"),
        CheckConstraint("length(id_number_index) = 16", name="id_number_index_length"),
        # Lists are served in (grid path, id) order: one range walk of this index per page.
        Index("ix_residents_grid_path_id", "grid_path", "id"),
    )


class ResidentTagRow(Base):
    """A tag on a resident (独居老人, 残疾人 …); one row per tag so tag filters use an index."""

    __tablename__ = "resident_tags"

    resident_id: Mapped[str] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[ResidentTag] = mapped_column(enum_type(ResidentTag), primary_key=True, index=True)
