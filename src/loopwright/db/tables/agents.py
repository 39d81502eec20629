"""Agents: named configurations of prompt, model, limits and tools."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import (
    Base,
    created_column,
    id_column,
    store_column,
    updated_column,
)


class AgentRow(Base):
    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("store_id", "name"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    goal: Mapped[str] = mapped_column(Text, default="")
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(200))
    fallback_models: Mapped[list[str]] = mapped_column(default=list)
    temperature: Mapped[float | None] = mapped_column(Float, default=None)
    max_steps: Mapped[int] = mapped_column(Integer, default=15)
    timeout_s: Mapped[float] = mapped_column(Float, default=300.0)
    tools: Mapped[list[str]] = mapped_column(default=list)
    memory: Mapped[bool] = mapped_column(default=False)
    # long-term memory: the tokens of memories a run's context may hold; the idle seconds after
    # which a session is reflected on (None: only on request)
    memory_budget_tokens: Mapped[int] = mapped_column(Integer, default=500, server_default="500")
    reflect_idle_s: Mapped[int | None] = mapped_column(Integer, default=None)
    mode: Mapped[str] = mapped_column(String(16), default="single")
    # team mode: the executors' model (None: the planner's) and system prompt ("": the default)
    executor_model: Mapped[str | None] = mapped_column(String(200), default=None)
    executor_system_prompt: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    # tool approvals: ``never``, ``read_write`` or ``always``; per tool ``never``/``always``
    approval: Mapped[str] = mapped_column(String(16), default="never")
    tool_approvals: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
