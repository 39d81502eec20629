"""Team mode: executor settings on agents, plans with steps, executor runs

Agents get an ``executor_model`` (None: the planner's model) and an
``executor_system_prompt``. A plan records the planner's reason; each step its planner-given
``key``, title, tools, attempts, error and the parent ``run_id`` (so the commit that ends an
executor can wake its parent with one indexed look-up). ``(plan_id, key)`` is unique. A run
started for a plan step records it in ``team_step`` (plan, step, attempt and the limits the
parent gave it).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("executor_model", sa.String(200), nullable=True))
        batch.add_column(
            sa.Column("executor_system_prompt", sa.Text(), nullable=False, server_default="")
        )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("team_step", sa.JSON(), nullable=True))
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_plans_run", ["run_id"], unique=False)
    with op.batch_alter_table("plan_steps") as batch:
        batch.add_column(sa.Column("run_id", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("key", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("title", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("tools", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_plan_steps_plan_key", ["plan_id", "key"], unique=True)
        batch.create_index("ix_plan_steps_run_status", ["run_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plan_steps") as batch:
        batch.drop_index("ix_plan_steps_run_status")
        batch.drop_index("ix_plan_steps_plan_key")
        for column in ("finished_at", "error", "attempts", "tools", "title", "key", "run_id"):
            batch.drop_column(column)
    with op.batch_alter_table("plans") as batch:
        batch.drop_index("ix_plans_run")
        batch.drop_column("finished_at")
        batch.drop_column("reason")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("team_step")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("executor_system_prompt")
        batch.drop_column("executor_model")
