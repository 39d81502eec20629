"""Workers across machines: a heartbeat row per worker process, and each run's owner

``workers`` holds one row per live DBOS executor (its process, host, versions and last
heartbeat); a live worker fences an expired one (``fenced_at``) before recovering its runs.
``runs.owner`` is the execution of the run's workflow that may write for it. Both are
additions only (expand): a worker of the release before ignores them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("executor_id", sa.String(128), nullable=False),
        sa.Column("incarnation", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("application_version", sa.String(128), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("heartbeat_at", _TS, nullable=False),
        sa.Column("fenced_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("executor_id", name="pk_workers"),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("owner")
    op.drop_table("workers")
