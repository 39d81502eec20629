"""Team mode: a planner's plan and its steps, each run by an executor (a child run)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import Base, created_column, id_column, store_column


class PlanRow(Base):
    __tablename__ = "plans"
    __table_args__ = (Index("ix_plans_run", "run_id"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("runs.id", ondelete="CASCADE"))
    goal: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    # running → completed (every step completed) | partial (some failed) | failed (all failed)
    status: Mapped[str] = mapped_column(String(16), default="running")
    created_at: Mapped[datetime] = created_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class PlanStepRow(Base):
    __tablename__ = "plan_steps"
    __table_args__ = (
        Index("ix_plan_steps_plan_key", "plan_id", "key", unique=True),
        # the commit that ends an executor looks for its parent's running steps
        Index("ix_plan_steps_run_status", "run_id", "status"),
    )

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    plan_id: Mapped[str] = mapped_column(String(64), ForeignKey("plans.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(String(64))  # the planner's run
    key: Mapped[str] = mapped_column(String(64))  # the planner's name for the step
    index: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text)  # the executor's instructions
    depends_on: Mapped[list[str]] = mapped_column(default=list)  # keys of other steps
    tools: Mapped[list[str]] = mapped_column(default=list)  # empty: the agent's read-only tools
    # pending → running → completed | failed | skipped (a step it depends on failed)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    executor_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    result: Mapped[str | None] = mapped_column(Text, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = created_column()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
