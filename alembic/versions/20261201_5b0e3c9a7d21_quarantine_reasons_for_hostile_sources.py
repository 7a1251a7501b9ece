"""Quarantine reasons FUTURE_TIMESTAMP, UNREADABLE and WRITE_ERROR; per-reason counts on runs.

The reason column is a VARCHAR with a named CHECK constraint (portable enums): the
constraint is dropped and created again with the new values. SQLite cannot alter a
constraint, so batch mode copies the table there; on PostgreSQL it is two ALTERs.

Revision ID: 5b0e3c9a7d21
Revises: 5e1f0a7c9b21
Create Date: 2026-12-01 02:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "5b0e3c9a7d21"
down_revision: str | None = "5e1f0a7c9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_REASONS = ("INVALID_ID_NUMBER", "UNMATCHED_RESIDENT", "SCHEMA_ERROR", "CONFLICT")
NEW_REASONS = (*OLD_REASONS, "FUTURE_TIMESTAMP", "UNREADABLE", "WRITE_ERROR")


def _reason_type(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values, name="quarantinereason", native_enum=False, create_constraint=True, length=32
    )


def _set_reasons(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.alter_column(
            "reason", existing_type=_reason_type(old), type_=_reason_type(new), nullable=False
        )


def upgrade() -> None:
    with op.batch_alter_table("connector_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reasons", sa.JSON(none_as_null=True), nullable=True))
    _set_reasons(OLD_REASONS, NEW_REASONS)


def downgrade() -> None:
    # Rows with the new reasons cannot be kept under the old constraint: they go back to
    # SCHEMA_ERROR (what such records were before), with their message and payload intact.
    op.execute(
        sa.text(
            "UPDATE quarantine SET reason = 'SCHEMA_ERROR' "
            "WHERE reason IN ('FUTURE_TIMESTAMP', 'UNREADABLE', 'WRITE_ERROR')"
        )
    )
    _set_reasons(NEW_REASONS, OLD_REASONS)
    with op.batch_alter_table("connector_runs", schema=None) as batch_op:
        batch_op.drop_column("reasons")
