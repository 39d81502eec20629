"""Long-term memories of one store and the suggestions made for them: rows only.

An agent sees its own memories and the store's shared ones (``visible_to``); a superseded
memory is kept, marked, and seen by no retrieval. Text search is ``db/fulltext.py``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.fulltext import engine_query, on_sqlite, query_words, ranked_sql
from loopwright.db.repos.paging import Page, newest_first
from loopwright.db.repos.workspace import search
from loopwright.db.tables import AgentRow, MemoryRow, MemorySuggestionRow
from loopwright.db.tables.base import utcnow
from loopwright.errors import Conflict, NotFound
from loopwright.ids import new_id

MEMORY_FIELDS = ("content", "type", "importance", "shared")


def visible_to(agent_id: str) -> ColumnElement[bool]:
    return or_(MemoryRow.agent_id == agent_id, MemoryRow.shared.is_(True))


async def check_agent(session: AsyncSession, store_id: str, agent_id: str) -> None:
    found = await session.scalar(
        select(AgentRow.id).where(AgentRow.store_id == store_id, AgentRow.id == agent_id)
    )
    if found is None:
        raise NotFound.of("agent", agent_id)


async def create(
    session: AsyncSession,
    store_id: str,
    *,
    agent_id: str,
    content: str,
    type: str,
    importance: float,
    shared: bool = False,
    source: str = "manual",
    source_session_id: str | None = None,
    source_run_id: str | None = None,
    source_message_ids: Sequence[str] = (),
) -> MemoryRow:
    await check_agent(session, store_id, agent_id)
    now = utcnow()
    row = MemoryRow(
        id=new_id("mem"),
        store_id=store_id,
        agent_id=agent_id,
        content=content,
        type=type,
        importance=importance,
        shared=shared,
        access_count=0,
        source=source,
        source_session_id=source_session_id,
        source_run_id=source_run_id,
        source_message_ids=list(source_message_ids),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def find_same(
    session: AsyncSession, store_id: str, agent_id: str, content: str
) -> MemoryRow | None:
    """The agent's current memory with this content, ignoring case."""
    found = await session.scalars(
        select(MemoryRow)
        .where(
            MemoryRow.store_id == store_id,
            MemoryRow.agent_id == agent_id,
            MemoryRow.superseded_by_id.is_(None),
            func.lower(MemoryRow.content) == content.lower(),
        )
        .limit(1)
    )
    return found.first()


async def get(session: AsyncSession, store_id: str, memory_id: str) -> MemoryRow:
    row = await session.scalar(
        select(MemoryRow).where(MemoryRow.store_id == store_id, MemoryRow.id == memory_id)
    )
    if row is None:
        raise NotFound.of("memory", memory_id)
    return row


async def by_ids(session: AsyncSession, store_id: str, ids: Sequence[str]) -> list[MemoryRow]:
    if not ids:
        return []
    rows = await session.scalars(
        select(MemoryRow).where(MemoryRow.store_id == store_id, MemoryRow.id.in_(list(ids)))
    )
    found = {row.id: row for row in rows}
    return [found[i] for i in ids if i in found]


async def list_memories(
    session: AsyncSession,
    store_id: str,
    *,
    agent_id: str | None = None,
    type: str | None = None,
    q: str | None = None,
    superseded: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[MemoryRow]:
    """Newest first. ``agent_id``: what that agent sees (its own and the shared ones);
    ``q``: every word, stemmed, or a substring; ``superseded``: include replaced ones."""
    query = select(MemoryRow).where(MemoryRow.store_id == store_id)
    if agent_id is not None:
        query = query.where(visible_to(agent_id))
    if type is not None:
        query = query.where(MemoryRow.type == type)
    if q:
        query = query.where(search("memories", (MemoryRow.content,), q))
    if not superseded:
        query = query.where(MemoryRow.superseded_by_id.is_(None))
    return await newest_first(session, query, MemoryRow.id, limit=limit, cursor=cursor)


async def update_memory(
    session: AsyncSession, store_id: str, memory_id: str, changes: Mapping[str, Any]
) -> MemoryRow:
    row = await get(session, store_id, memory_id)
    unknown = set(changes) - set(MEMORY_FIELDS)
    if unknown:
        raise TypeError(f"cannot change {sorted(unknown)}")
    changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
    for field, value in changed.items():
        setattr(row, field, value)
    if changed:
        row.updated_at = utcnow()
        if "content" in changed:
            row.embedding = None  # made again for the new text
            row.embedding_model = None
        await session.flush()
    return row


async def delete_memory(session: AsyncSession, store_id: str, memory_id: str) -> None:
    row = await get(session, store_id, memory_id)
    await session.delete(row)
    await session.flush()


async def supersede(session: AsyncSession, store_id: str, old_id: str, new_id_: str) -> None:
    await session.execute(
        update(MemoryRow)
        .where(MemoryRow.store_id == store_id, MemoryRow.id == old_id)
        .values(superseded_by_id=new_id_, superseded_at=utcnow())
    )


async def ranked(
    session: AsyncSession, store_id: str, agent_id: str, q: str, *, limit: int
) -> list[tuple[str, float]]:
    """(id, rank) of the memories the agent sees that share a word with ``q``, best first
    (rank: larger is better, on the database's own scale)."""
    if not query_words(q, "any"):
        return []
    sqlite = on_sqlite(session)
    shared = "t.shared = 1" if sqlite else "t.shared"
    where = (
        f"t.store_id = :store AND (t.agent_id = :agent OR {shared}) AND t.superseded_by_id IS NULL"
    )
    statement = text(ranked_sql(sqlite, "memories", where))
    params = {"q": engine_query(sqlite, q, "any"), "store": store_id, "agent": agent_id}
    result = await session.execute(statement, {**params, "limit": limit})
    return [(str(r.id), float(r.rank)) for r in result]


# What ranking reads of a memory (plain rows: the ORM's objects cost more than the query).
SCORED = (
    MemoryRow.id,
    MemoryRow.content,
    MemoryRow.type,
    MemoryRow.importance,
    MemoryRow.last_accessed_at,
    MemoryRow.updated_at,
    MemoryRow.created_at,
)


async def scored_rows(session: AsyncSession, store_id: str, ids: Sequence[str]) -> list[Any]:
    if not ids:
        return []
    result = await session.execute(
        select(*SCORED).where(MemoryRow.store_id == store_id, MemoryRow.id.in_(list(ids)))
    )
    return list(result)


async def standing(session: AsyncSession, store_id: str, agent_id: str, *, limit: int) -> list[Any]:
    """The agent's preferences and instructions, most important first: they apply to any
    message, whether or not it shares a word with them."""
    rows = await session.execute(
        select(*SCORED)
        .where(
            MemoryRow.store_id == store_id,
            visible_to(agent_id),
            MemoryRow.superseded_by_id.is_(None),
            MemoryRow.type.in_(("preference", "instruction")),
        )
        .order_by(MemoryRow.importance.desc(), MemoryRow.id.desc())
        .limit(limit)
    )
    return list(rows)


async def with_embeddings(
    session: AsyncSession, store_id: str, agent_id: str, model: str
) -> list[tuple[str, list[float]]]:
    result = await session.execute(
        select(MemoryRow.id, MemoryRow.embedding).where(
            MemoryRow.store_id == store_id,
            visible_to(agent_id),
            MemoryRow.superseded_by_id.is_(None),
            MemoryRow.embedding_model == model,
        )
    )
    return [(str(r.id), list(r.embedding)) for r in result if r.embedding]


async def missing_embeddings(
    session: AsyncSession, store_id: str, agent_id: str, model: str, *, limit: int
) -> list[MemoryRow]:
    rows = await session.scalars(
        select(MemoryRow)
        .where(
            MemoryRow.store_id == store_id,
            visible_to(agent_id),
            MemoryRow.superseded_by_id.is_(None),
            or_(MemoryRow.embedding_model.is_(None), MemoryRow.embedding_model != model),
        )
        .limit(limit)
    )
    return list(rows)


async def set_embedding(
    session: AsyncSession, store_id: str, memory_id: str, model: str, vector: list[float]
) -> None:
    await session.execute(
        update(MemoryRow)
        .where(MemoryRow.store_id == store_id, MemoryRow.id == memory_id)
        .values(embedding=vector, embedding_model=model)
    )


async def touch(session: AsyncSession, store_id: str, ids: Sequence[str], at: datetime) -> None:
    """One more access for each of ``ids``, at ``at``."""
    if not ids:
        return
    await session.execute(
        update(MemoryRow)
        .where(MemoryRow.store_id == store_id, MemoryRow.id.in_(list(ids)))
        .values(access_count=MemoryRow.access_count + 1, last_accessed_at=at)
    )


# -- suggestions ----------------------------------------------------------------------------


async def add_suggestion(
    session: AsyncSession, store_id: str, fields: Mapping[str, Any]
) -> MemorySuggestionRow:
    row = MemorySuggestionRow(id=new_id("sug"), store_id=store_id, status="pending", **fields)
    session.add(row)
    await session.flush()
    return row


async def get_suggestion(
    session: AsyncSession, store_id: str, suggestion_id: str
) -> MemorySuggestionRow:
    row = await session.scalar(
        select(MemorySuggestionRow).where(
            MemorySuggestionRow.store_id == store_id, MemorySuggestionRow.id == suggestion_id
        )
    )
    if row is None:
        raise NotFound.of("memory suggestion", suggestion_id)
    return row


async def list_suggestions(
    session: AsyncSession,
    store_id: str,
    *,
    agent_id: str | None = None,
    session_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[MemorySuggestionRow]:
    query = select(MemorySuggestionRow).where(MemorySuggestionRow.store_id == store_id)
    if agent_id is not None:
        query = query.where(MemorySuggestionRow.agent_id == agent_id)
    if session_id is not None:
        query = query.where(MemorySuggestionRow.session_id == session_id)
    if status is not None:
        query = query.where(MemorySuggestionRow.status == status)
    return await newest_first(session, query, MemorySuggestionRow.id, limit=limit, cursor=cursor)


async def decide(
    session: AsyncSession,
    store_id: str,
    suggestion_id: str,
    *,
    approve: bool,
    edits: Mapping[str, Any] | None = None,
    shared: bool = False,
    update_existing: bool = True,
) -> MemorySuggestionRow:
    """Approve (a memory made from the suggestion, with ``edits``; one it repeats or
    contradicts is superseded by it with ``update_existing``) or reject a pending suggestion.
    Raises ``Conflict`` when it was decided already."""
    row = await get_suggestion(session, store_id, suggestion_id)
    if row.status != "pending":
        raise Conflict(
            f"memory suggestion {suggestion_id!r} was {row.status} already",
            details={"status": row.status},
        )
    row.decided_at = utcnow()
    if not approve:
        row.status = "rejected"
        await session.flush()
        return row
    fields: dict[str, Any] = {
        "content": row.content,
        "type": row.type,
        "importance": row.importance,
    }
    fields.update(edits or {})
    memory = await create(
        session,
        store_id,
        agent_id=row.agent_id,
        content=fields["content"],
        type=fields["type"],
        importance=fields["importance"],
        shared=shared,
        source="suggestion",
        source_session_id=row.session_id,
        source_run_id=row.run_id,
        source_message_ids=row.source_message_ids,
    )
    if row.existing_memory_id and update_existing:
        await supersede(session, store_id, row.existing_memory_id, memory.id)
    row.status = "approved"
    row.memory_id = memory.id
    await session.flush()
    return row
