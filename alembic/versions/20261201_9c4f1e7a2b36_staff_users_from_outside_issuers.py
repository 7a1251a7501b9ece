"""Staff users may come from a trusted outside OpenID Connect provider (`issuer`).

Such a person signs in at the provider, never with a password here; the row keeps the role
and grid the provider's claims mapped to at the last sign-in, so sessions, sign-out and
`hub users disable` work for them as for local accounts.

Revision ID: 9c4f1e7a2b36
Revises: 9d4e6b2c8a17
Create Date: 2026-12-01 12:45:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "9c4f1e7a2b36"
down_revision: str | None = "9d4e6b2c8a17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("staff_users", sa.Column("issuer", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("issuer")
