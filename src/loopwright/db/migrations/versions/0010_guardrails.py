"""Guardrails: usage counters, tool approvals, agents' approval policy, runs queued for later

``usage_counters`` holds what each store used of a limit per window (``(store_id, key)``),
taken and checked in one statement. ``approvals`` holds tool calls waiting for a decision,
unique per ``(run_id, call_id)``. Agents get ``approval`` and ``tool_approvals``; runs get
``not_before`` (queued over the runs/min limit with the ``queue`` policy).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("cap", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "key", name="pk_usage_counters"),
    )
    op.create_index("ix_usage_counters_expires_at", "usage_counters", ["expires_at"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("store_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("tool", sa.String(200), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("arguments_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_arguments", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name="fk_approvals_store_id_stores",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_run_call", "approvals", ["run_id", "call_id"], unique=True)
    op.create_index("ix_approvals_store_status", "approvals", ["store_id", "status", "id"])
    op.create_index("ix_approvals_status_expires", "approvals", ["status", "expires_at"])
    with op.batch_alter_table("agents") as batch:
        batch.add_column(
            sa.Column("approval", sa.String(16), nullable=False, server_default="never")
        )
        batch.add_column(
            sa.Column("tool_approvals", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("not_before")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("tool_approvals")
        batch.drop_column("approval")
    op.drop_index("ix_approvals_status_expires", table_name="approvals")
    op.drop_index("ix_approvals_store_status", table_name="approvals")
    op.drop_index("ix_approvals_run_call", table_name="approvals")
    op.drop_table("approvals")
    op.drop_index("ix_usage_counters_expires_at", table_name="usage_counters")
    op.drop_table("usage_counters")
