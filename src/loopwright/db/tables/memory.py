"""Long-term memories per agent, and the suggestions users approve or reject."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import (
    Base,
    created_column,
    id_column,
    store_column,
    updated_column,
)


class MemoryRow(Base):
    __tablename__ = "memories"

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="fact")
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    access_count: Mapped[int] = mapped_column(Integer, default=0)
    last_accessed_at: Mapped[datetime | None] = mapped_column(default=None)
    source_session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class MemorySuggestionRow(Base):
    __tablename__ = "memory_suggestions"

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    agent_id: Mapped[str] = mapped_column(String(64), ForeignKey("agents.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    content: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16), default="fact")
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = created_column()
