"""Partial indexes for the run sweep: queued runs by store, running runs by start time

The sweep (every ``sweep_s`` in every worker) looks for stores with queued runs and for
running runs admitted a while ago; neither filter leads with ``store_id``, so without these
each sweep read the whole runs table. Each index holds only the rows in its status.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    queued = sa.text("status = 'queued'")
    running = sa.text("status = 'running'")
    op.create_index(
        "ix_runs_queued", "runs", ["store_id"], sqlite_where=queued, postgresql_where=queued
    )
    op.create_index(
        "ix_runs_running", "runs", ["started_at"], sqlite_where=running, postgresql_where=running
    )


def downgrade() -> None:
    op.drop_index("ix_runs_running", table_name="runs")
    op.drop_index("ix_runs_queued", table_name="runs")
