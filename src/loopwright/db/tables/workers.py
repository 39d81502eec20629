"""The worker processes on the database: each registers itself and beats (``runtime.workers``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import Base


class WorkerRow(Base):
    """One live worker per DBOS executor id. ``incarnation`` names the process that holds the
    id now (a restart takes the row over with a new one); ``fenced_at`` is set by the live
    worker that declared this one dead, before it recovers its runs; the row is deleted once
    they are recovered."""

    __tablename__ = "workers"

    executor_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    incarnation: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(64))  # Loopwright's
    application_version: Mapped[str] = mapped_column(String(128))  # DBOS's
    started_at: Mapped[datetime] = mapped_column()
    heartbeat_at: Mapped[datetime] = mapped_column()
    fenced_at: Mapped[datetime | None] = mapped_column(default=None)
