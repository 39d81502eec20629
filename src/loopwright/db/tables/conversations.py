"""Sessions, their messages, runs, model steps and tool-call records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import (
    Base,
    created_column,
    id_column,
    store_column,
    updated_column,
)


class SessionRow(Base):
    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_store_agent", "store_id", "agent_id"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column(indexed=False)
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300), default="")
    busy_policy: Mapped[str] = mapped_column(String(16), default="enqueue")
    # the last message a reflection read (long-term memory suggestions): never read twice
    reflected_to: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


_QUEUED = text("status = 'queued'")
_RUNNING = text("status = 'running'")


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_store_session", "store_id", "session_id"),
        Index("ix_runs_store_status", "store_id", "status"),
        # the usage dashboard's range over a store's runs
        Index("ix_runs_store_created", "store_id", "created_at"),
        # the run sweep's two questions (see runtime.admission), each over its status only
        Index("ix_runs_queued", "store_id", sqlite_where=_QUEUED, postgresql_where=_QUEUED),
        Index("ix_runs_running", "started_at", sqlite_where=_RUNNING, postgresql_where=_RUNNING),
        # a parent's children, and the one child a parent's tool call started
        Index("ix_runs_parent_call", "parent_run_id", "parent_call_id", unique=True),
    )

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column(indexed=False)
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="CASCADE")
    )
    agent_id: Mapped[str] = mapped_column(String(64))
    trigger_message_id: Mapped[str | None] = mapped_column(String(64), default=None)
    parent_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    parent_call_id: Mapped[str | None] = mapped_column(String(128), default=None)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(16), default="queued")
    stop_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    trigger: Mapped[str] = mapped_column(String(32), default="api")
    steps: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # What the run executes with (``runtime.plan.RunPlan``), fixed when it starts.
    plan: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # A team plan's executor: {plan_id, step_key, attempt, max_steps, deadline, tools}.
    team_step: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # The run's trace when tracing is on: {trace_id, span_id, link} (``telemetry.tracing``).
    trace: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # The execution of the run's workflow that may write for it (``runtime.fencing``): each
    # start or replay claims it; a stale execution's writes fail.
    owner: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = created_column()
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # Queued over the store's runs/min with the ``queue`` policy: not admitted before this.
    not_before: Mapped[datetime | None] = mapped_column(default=None)


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_store_session", "store_id", "session_id", "id"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column(indexed=False)
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="CASCADE")
    )
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    kind: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    input_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    output_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = created_column()


class RunStepRow(Base):
    """One model request inside a run, with the tool calls it produced."""

    __tablename__ = "run_steps"
    __table_args__ = (
        UniqueConstraint("run_id", "index"),
        # the usage dashboard's range over a store's model steps (and any store-wide lookup)
        Index("ix_run_steps_store_created", "store_id", "created_at"),
    )

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column(indexed=False)
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("runs.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    tool_calls: Mapped[list[Any]] = mapped_column(default=list)
    # the first step's long-term memories: [{memory_id, score, relevance, ...}]
    memories: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = created_column()


class ToolCallRow(Base):
    """The result of one tool call, keyed by ``(run_id, call_id)``: the exactly-once record and
    the audit trail (agent, arguments, result, duration, outcome)."""

    __tablename__ = "tool_calls"
    __table_args__ = (
        UniqueConstraint("run_id", "call_id"),
        Index("ix_tool_calls_store_created", "store_id", "created_at"),
        # the per-tool rate limit counts one tool's calls in the last minute on every call
        Index("ix_tool_calls_store_tool_created", "store_id", "tool_name", "created_at"),
    )

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column(indexed=False)
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    call_id: Mapped[str] = mapped_column(String(128))
    agent_id: Mapped[str | None] = mapped_column(String(64), default=None)
    tool_name: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[Any] = mapped_column(JSON, default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = created_column()
