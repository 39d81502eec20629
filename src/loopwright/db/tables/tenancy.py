"""Stores (tenants), their API keys and their model providers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopwright.db.tables.base import Base, created_column, id_column, store_column


class StoreRow(Base):
    __tablename__ = "stores"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    # The last event seq handed out; incremented under the row lock by every append.
    event_seq: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = created_column()


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_column()
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class ProviderRow(Base):
    __tablename__ = "providers"
    __table_args__ = (UniqueConstraint("store_id", "name"),)

    id: Mapped[str] = id_column()
    store_id: Mapped[str] = store_column()
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    api_key_enc: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = created_column()
