"""Child runs: the tool call that started a run, and runs that may only read

A run started by a parent's tool call records that call (``parent_call_id``): the pair
``(parent_run_id, parent_call_id)`` is unique, so a replayed call finds its child instead of
starting another. ``read_only`` runs are offered only read-only tools (a read-only parent's
children stay read-only).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("parent_call_id", sa.String(128), nullable=True))
        batch.add_column(
            sa.Column("read_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_runs_parent_call", "runs", ["parent_run_id", "parent_call_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_runs_parent_call", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("read_only")
        batch.drop_column("parent_call_id")
