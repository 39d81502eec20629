"""What a store connects to: HTTP tools, MCP servers, schedules and inbound webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import Base, created_column, id_column, store_column


class HttpToolRow(Base):
    __tablename__ = "http_tools"
    __table_args__ = (UniqueConstraint("store_id", "name"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(2000))
    method: Mapped[str] = mapped_column(String(8), default="POST")
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    headers_enc: Mapped[str | None] = mapped_column(Text, default=None)
    read_only: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_column()


class McpServerRow(Base):
    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("store_id", "name"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    name: Mapped[str] = mapped_column(String(100))
    transport: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2000))
    headers_enc: Mapped[str | None] = mapped_column(Text, default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_column()


class ScheduleRow(Base):
    __tablename__ = "schedules"

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    cron: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(default=True)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = created_column()
    session_policy: Mapped[str] = mapped_column(String(16), default="new")
    """``new``: a session per fire; ``reuse``: every fire in ``session_id``."""
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    missed_policy: Mapped[str] = mapped_column(String(16), default="skip")
    """A due time found more than ``schedule_grace_s`` late (the server was down): ``skip``
    it, or ``run_once`` for all the missed ones."""
    next_due_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    """The next fire time; None while paused."""


class WebhookRow(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    secret_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
    name: Mapped[str] = mapped_column(String(100), default="")
    template: Mapped[str] = mapped_column(Text, default="")
    """How the JSON body becomes the message (``{body}``, ``{body.a.b}``); empty: the body."""
    session_policy: Mapped[str] = mapped_column(String(16), default="new")
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
