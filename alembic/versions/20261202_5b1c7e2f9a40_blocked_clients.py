"""Blocked clients: outside issuers' clients refused at the hub, by (issuer, client_id).

Revision ID: 5b1c7e2f9a40
Revises: 0645449283dc
Create Date: 2026-12-02 09:12:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import hub.storage.base
from alembic import op

revision: str = "5b1c7e2f9a40"
down_revision: str | None = "0645449283dc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blocked_clients",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("blocked_at", hub.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer", "client_id", name=op.f("pk_blocked_clients")),
    )


def downgrade() -> None:
    op.drop_table("blocked_clients")
