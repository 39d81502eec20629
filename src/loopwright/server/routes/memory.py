"""Long-term memories (``/memories``) and the suggestions people review
(``/memory-suggestions``); a session's reflection (``/sessions/{id}/reflect``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from loopwright.db.repos import memories, providers, tenancy
from loopwright.db.tables import MemoryRow
from loopwright.domain.vocabulary import MemoryType
from loopwright.errors import ValidationFailed
from loopwright.runtime import embeddings, reflection
from loopwright.server.auth import Admin, Member, Reader, ServicesDep
from loopwright.server.openapi import CONFLICT
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.memory import (
    MemoryCreate,
    MemoryPublic,
    MemorySettings,
    MemorySource,
    MemoryUpdate,
    ReflectPublic,
    SuggestionApprove,
    SuggestionPublic,
    SuggestionStatus,
)

router = APIRouter(prefix="/v1/stores/{store_id}", tags=["memory"])

AgentFilter = Annotated[
    str | None,
    Query(max_length=64, description="what this agent sees: its own and the shared ones"),
]
SearchQuery = Annotated[
    str | None, Query(max_length=200, description="words (stemmed) or a substring")
]


def public(row: MemoryRow) -> MemoryPublic:
    return MemoryPublic(
        id=row.id,
        agent_id=row.agent_id,
        content=row.content,
        type=row.type,
        importance=row.importance,
        shared=row.shared,
        access_count=row.access_count,
        last_accessed_at=row.last_accessed_at,
        source=MemorySource(
            kind=row.source,
            session_id=row.source_session_id,
            run_id=row.source_run_id,
            message_ids=list(row.source_message_ids or []),
        ),
        superseded_by_id=row.superseded_by_id,
        superseded_at=row.superseded_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.post("/memories", status_code=201)
async def create_memory(body: MemoryCreate, access: Member, svc: ServicesDep) -> MemoryPublic:
    async with svc.db.write(access.store_id) as session:
        row = await memories.create(
            session,
            access.store_id,
            agent_id=body.agent_id,
            content=body.content,
            type=body.type,
            importance=body.importance,
            shared=body.shared,
        )
    return public(row)


@router.get("/memories")
async def list_memories(
    access: Reader,
    svc: ServicesDep,
    agent_id: AgentFilter = None,
    type: MemoryType | None = None,
    q: SearchQuery = None,
    superseded: Annotated[bool, Query(description="include superseded memories")] = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[MemoryPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await memories.list_memories(
            session,
            access.store_id,
            agent_id=agent_id,
            type=type,
            q=q,
            superseded=superseded,
            limit=limit,
            cursor=cursor,
        )
    return ListOf(items=[public(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/memories/{memory_id}")
async def get_memory(memory_id: str, access: Reader, svc: ServicesDep) -> MemoryPublic:
    async with svc.db.read(access.store_id) as session:
        return public(await memories.get(session, access.store_id, memory_id))


@router.patch("/memories/{memory_id}")
async def update_memory(
    memory_id: str, body: MemoryUpdate, access: Member, svc: ServicesDep
) -> MemoryPublic:
    async with svc.db.write(access.store_id) as session:
        row = await memories.update_memory(
            session, access.store_id, memory_id, body.model_dump(exclude_unset=True)
        )
    return public(row)


@router.delete("/memories/{memory_id}", status_code=204)
async def delete_memory(memory_id: str, access: Member, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        await memories.delete_memory(session, access.store_id, memory_id)
    return Response(status_code=204)


# -- suggestions --------------------------------------------------------------------------------


@router.get("/memory-suggestions")
async def list_suggestions(
    access: Reader,
    svc: ServicesDep,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    session_id: Annotated[str | None, Query(max_length=64)] = None,
    status: SuggestionStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[SuggestionPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await memories.list_suggestions(
            session,
            access.store_id,
            agent_id=agent_id,
            session_id=session_id,
            status=status,
            limit=limit,
            cursor=cursor,
        )
    return ListOf(
        items=[SuggestionPublic.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/memory-suggestions/{suggestion_id}")
async def get_suggestion(suggestion_id: str, access: Reader, svc: ServicesDep) -> SuggestionPublic:
    async with svc.db.read(access.store_id) as session:
        row = await memories.get_suggestion(session, access.store_id, suggestion_id)
    return SuggestionPublic.model_validate(row)


@router.post("/memory-suggestions/{suggestion_id}/approve", responses=CONFLICT)
async def approve_suggestion(
    suggestion_id: str, body: SuggestionApprove, access: Member, svc: ServicesDep
) -> SuggestionPublic:
    """Make the memory (edited with the given fields); 409 once decided."""
    edits = body.model_dump(exclude_unset=True, include={"content", "type", "importance"})
    async with svc.db.write(access.store_id) as session:
        row = await memories.decide(
            session,
            access.store_id,
            suggestion_id,
            approve=True,
            edits=edits,
            shared=body.shared,
            update_existing=body.update_existing,
        )
    return SuggestionPublic.model_validate(row)


@router.post("/memory-suggestions/{suggestion_id}/reject", responses=CONFLICT)
async def reject_suggestion(
    suggestion_id: str, access: Member, svc: ServicesDep
) -> SuggestionPublic:
    """409 once decided."""
    async with svc.db.write(access.store_id) as session:
        row = await memories.decide(session, access.store_id, suggestion_id, approve=False)
    return SuggestionPublic.model_validate(row)


@router.post("/sessions/{session_id}/reflect", status_code=202)
async def reflect(session_id: str, access: Member, svc: ServicesDep) -> ReflectPublic:
    """Start a reflection run over the session's messages no reflection has read yet (or
    return the one queued or running; none when nothing is new): the agent's model proposes
    memories for review (``memory.suggested``, ``/memory-suggestions``)."""
    runtime = svc.runtime
    requested = await reflection.request(
        svc.db, access.store_id, session_id, runtime.admission_budget()
    )
    await runtime.start_admitted(access.store_id, requested.admitted)
    return ReflectPublic(run_id=requested.run_id, messages=requested.messages)


# -- settings -----------------------------------------------------------------------------------


@router.get("/memory-settings")
async def get_memory_settings(access: Reader, svc: ServicesDep) -> MemorySettings:
    async with svc.db.read(access.store_id) as session:
        return MemorySettings(embedding_model=await embeddings.model_of(session, access.store_id))


@router.put("/memory-settings")
async def put_memory_settings(
    body: MemorySettings, access: Admin, svc: ServicesDep
) -> MemorySettings:
    """422 unless the model's provider is an OpenAI-compatible provider of the store."""
    async with svc.db.write(access.store_id) as session:
        if body.embedding_model is not None:
            provider = body.embedding_model.split(":", 1)[0]
            row = await providers.find(session, access.store_id, provider)
            if row is None or row.kind != "openai":
                raise ValidationFailed(
                    f"{provider!r} is not an OpenAI-compatible provider of this store",
                    details={"field": "embedding_model"},
                )
        store = await tenancy.get_store(session, access.store_id)
        settings = dict(store.settings or {})
        settings["memory"] = {"embedding_model": body.embedding_model}
        store.settings = settings
    return body
