"""Long-term memories and memory suggestions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import MISSING, BaseModel, Field, StringConstraints

from loopwright.domain.vocabulary import MemoryType
from loopwright.server.schemas.common import Input, Output
from loopwright.server.schemas.workspace import Timestamp

MAX_MEMORY = 4000
MemoryContent = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MEMORY)
]
Importance = Annotated[float, Field(ge=0, le=1)]
AgentId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class MemoryCreate(Input):
    agent_id: AgentId
    content: MemoryContent
    type: MemoryType = "fact"
    importance: Importance = 0.5
    shared: bool = Field(False, description="seen by every agent of the store")


class MemoryUpdate(Input):
    content: MemoryContent | MISSING = MISSING
    type: MemoryType | MISSING = MISSING
    importance: Importance | MISSING = MISSING
    shared: bool | MISSING = MISSING


class MemorySource(BaseModel):
    kind: str = Field(description="manual, tool (the remember tool) or suggestion")
    session_id: str | None
    run_id: str | None
    message_ids: list[str]


class MemoryPublic(BaseModel):
    id: str
    agent_id: str
    content: str
    type: str
    importance: float
    shared: bool
    access_count: int
    last_accessed_at: Timestamp | None
    source: MemorySource
    superseded_by_id: str | None
    superseded_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


SuggestionStatus = Literal["pending", "approved", "rejected"]


class SuggestionPublic(Output):
    id: str
    agent_id: str
    session_id: str | None
    run_id: str | None = Field(description="the reflection run that made it")
    content: str
    type: str
    importance: float
    reason: str
    source_message_ids: list[str]
    relation: str = Field(description="new, duplicate or contradiction (of existing_memory_id)")
    existing_memory_id: str | None
    status: str
    memory_id: str | None = Field(description="the memory an approval made or updated")
    decided_at: Timestamp | None
    created_at: Timestamp


class SuggestionApprove(Input):
    """Approve as suggested, or with edits. ``update_existing`` (a duplicate or contradiction):
    a new memory replaces the existing one, which is kept and marked superseded; otherwise
    it is added beside it."""

    content: MemoryContent | MISSING = MISSING
    type: MemoryType | MISSING = MISSING
    importance: Importance | MISSING = MISSING
    shared: bool = False
    update_existing: bool = True


class ReflectPublic(BaseModel):
    run_id: str | None = Field(description="the reflection run; null when nothing is new")
    messages: int = Field(description="messages it reads (not read by an earlier reflection)")


class MemorySettings(Input):
    """The store's embedding model for hybrid retrieval: ``provider:model`` of an
    OpenAI-compatible provider (its ``/embeddings``); null: full-text only."""

    embedding_model: (
        Annotated[
            str,
            StringConstraints(min_length=3, max_length=200, pattern=r"^[a-z0-9][a-z0-9_-]*:\S+$"),
        ]
        | None
    ) = None
