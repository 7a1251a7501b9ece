"""Resident lists walk one index in (grid path, id) order, at any depth of the grid.

The single-column index on grid_path becomes a composite (grid_path, id): a subtree page
is then a range scan in the order it is served, with no sort of the whole subtree.

Revision ID: 5e1f0a7c9b21
Revises: 3723344bd9eb
Create Date: 2026-12-01 03:40:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e1f0a7c9b21"
down_revision: str | None = "3723344bd9eb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.create_index("ix_residents_grid_path_id", ["grid_path", "id"], unique=False)
        batch_op.drop_index(batch_op.f("ix_residents_grid_path"))


def downgrade() -> None:
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_residents_grid_path"), ["grid_path"], unique=False)
        batch_op.drop_index("ix_residents_grid_path_id")
