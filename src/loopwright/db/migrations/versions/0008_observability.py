"""Observability: a run keeps its trace (its root span's ids and the span that started it)

``runs.trace`` is ``{trace_id, span_id, link}`` when tracing was on as the run was queued, so
a run that resumes in another process continues the same trace (``telemetry/tracing.py``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("trace", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("trace")
