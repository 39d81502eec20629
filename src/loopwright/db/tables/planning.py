"""Team mode: a planner's plan and its steps, each run by an executor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import Base, created_column, id_column, store_column


class PlanRow(Base):
    __tablename__ = "plans"

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("runs.id", ondelete="CASCADE"))
    goal: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="running")
    created_at: Mapped[datetime] = created_column()


class PlanStepRow(Base):
    __tablename__ = "plan_steps"

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    plan_id: Mapped[str] = mapped_column(String(64), ForeignKey("plans.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    depends_on: Mapped[list[str]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    executor_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    result: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = created_column()
