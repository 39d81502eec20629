"""Long-term memories, suggestions and reflection."""

from __future__ import annotations

from datetime import datetime

from .base import Model


class MemorySource(Model):
    kind: str
    session_id: str | None
    run_id: str | None
    message_ids: list[str]


class Memory(Model):
    id: str
    agent_id: str
    content: str
    type: str
    importance: float
    shared: bool
    access_count: int
    last_accessed_at: datetime | None
    source: MemorySource
    superseded_by_id: str | None
    superseded_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MemorySuggestion(Model):
    id: str
    agent_id: str
    session_id: str | None
    run_id: str | None
    content: str
    type: str
    importance: float
    reason: str
    source_message_ids: list[str]
    relation: str
    existing_memory_id: str | None
    status: str
    memory_id: str | None
    decided_at: datetime | None
    created_at: datetime


class Reflection(Model):
    run_id: str | None
    messages: int


class MemorySettings(Model):
    embedding_model: str | None = None
