"""runs.plan: what a run executes with, fixed when it starts; an index for the tool rate limit

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("plan", sa.JSON(), nullable=True))
    op.create_index(
        "ix_tool_calls_store_tool_created",
        "tool_calls",
        ["store_id", "tool_name", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_tool_calls_store_tool_created", table_name="tool_calls")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("plan")
