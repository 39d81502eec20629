"""Long-term memories per agent, and the suggestions users approve or reject."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import (
    Base,
    created_column,
    id_column,
    store_column,
    updated_column,
)


class MemoryRow(Base):
    """A memory of one agent (``shared``: of every agent of the store). A superseded memory is
    kept, marked with the memory that replaced it, and no longer retrieved. Searched through
    ``memories_fts`` (SQLite) or a ``tsvector`` index (PostgreSQL): see ``db/fulltext.py``."""

    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_store_agent", "store_id", "agent_id"),
        # the standing preferences and instructions every retrieval reads
        Index("ix_memories_store_type", "store_id", "type"),
    )

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="fact")
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    access_count: Mapped[int] = mapped_column(Integer, default=0)
    last_accessed_at: Mapped[datetime | None] = mapped_column(default=None)
    source_session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # manual | tool | suggestion
    source: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    source_run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    source_message_ids: Mapped[list[Any]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    superseded_by_id: Mapped[str | None] = mapped_column(String(64), default=None)
    superseded_at: Mapped[datetime | None] = mapped_column(default=None)
    embedding: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    embedding_model: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class MemorySuggestionRow(Base):
    """A memory the model proposed from a session (``pending`` until a person approves or
    rejects it). ``relation``: ``new``, ``duplicate`` or ``contradiction`` of
    ``existing_memory_id``."""

    __tablename__ = "memory_suggestions"
    __table_args__ = (Index("ix_memory_suggestions_store_status", "store_id", "status"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    content: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="fact")
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    source_message_ids: Mapped[list[Any]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    relation: Mapped[str] = mapped_column(String(16), default="new", server_default="new")
    existing_memory_id: Mapped[str | None] = mapped_column(String(64), default=None)
    memory_id: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = created_column()
