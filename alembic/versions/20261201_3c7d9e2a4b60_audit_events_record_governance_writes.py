"""audit events record governance writes

Adds `audit_events.writes`: what a mutation changed (each case move with its case id and
transition, each visit, patrol and joint meeting), as `hub/audit/ledger.py` `wrote` records
it. Existing events get `[]`, the default, which their hashes do not cover, so they keep
verifying. On PostgreSQL the column is added to the partitioned table and so to every
partition.

Revision ID: 3c7d9e2a4b60
Revises: ed411f06da84
Create Date: 2026-12-01 06:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "3c7d9e2a4b60"
down_revision: str | None = "ed411f06da84"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("writes", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("writes")
