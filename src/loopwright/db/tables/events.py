"""The per-store, append-only event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import Base, created_column


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_store_session_seq", "store_id", "session_id", "seq"),
        Index("ix_events_store_run_seq", "store_id", "run_id", "seq"),
    )

    store_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    run_id: Mapped[str | None] = mapped_column(String(64), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = created_column()
