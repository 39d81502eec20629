"""Guardrails: usage counters (rate limits and budgets, per window) and tool approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import Base, created_column, id_column, store_column


class UsageCounterRow(Base):
    """What a store used of one limit in one window: ``key`` is ``<what>:<window>`` (runs,
    tokens, an agent's tokens, a tool's calls; a UTC minute or day number). Taken and checked
    in one statement (``db.repos.counters``), so the limit holds across processes."""

    __tablename__ = "usage_counters"

    store_id: Mapped[str] = mapped_column(
        String(64), primary_key=True
    )  # no foreign key: counters of a deleted store expire with the sweep
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0)
    cap: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # epoch seconds


class ApprovalRow(Base):
    """A tool call waiting for (or given) a person's decision, bound to its run, call id, tool
    and the hash of its arguments."""

    __tablename__ = "approvals"
    __table_args__ = (
        Index("ix_approvals_run_call", "run_id", "call_id", unique=True),
        Index("ix_approvals_store_status", "store_id", "status", "id"),
        Index("ix_approvals_status_expires", "status", "expires_at"),  # the expiry sweep
    )

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column(indexed=False)
    run_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(default=0)
    call_id: Mapped[str] = mapped_column(String(128))
    tool: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]] = mapped_column()
    arguments_hash: Mapped[str] = mapped_column(String(64))
    # pending → approved | rejected | expired (once)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_arguments: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
