"""Indexes for the usage endpoint: a store's runs and model steps by creation time

``GET /stores/{s}/usage`` counts a store's runs and sums its steps' tokens over a time range;
without these it read every run and step of the store. The steps' store-only index is replaced
by the composite, which starts with ``store_id`` too.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 19:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_runs_store_created", "runs", ["store_id", "created_at"])
    op.create_index("ix_run_steps_store_created", "run_steps", ["store_id", "created_at"])
    op.drop_index("ix_run_steps_store_id", table_name="run_steps")


def downgrade() -> None:
    op.create_index("ix_run_steps_store_id", "run_steps", ["store_id"])
    op.drop_index("ix_run_steps_store_created", table_name="run_steps")
    op.drop_index("ix_runs_store_created", table_name="runs")
