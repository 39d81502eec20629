"""Workspace state changed by the built-in tools: projects, tasks and documents.

Each row is updated in the same transaction as the domain event that describes the change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import (
    Base,
    created_column,
    id_column,
    store_column,
    updated_column,
)


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("store_id", "name"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    project_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("projects.id", ondelete="SET NULL"), default=None
    )
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="todo")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    project_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("projects.id", ondelete="SET NULL"), default=None
    )
    title: Mapped[str] = mapped_column(String(500))
    content: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()
