"""Embeddings for hybrid memory retrieval (filled in below)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.runtime.memory import Query
from loopwright.runtime.services import RunServices


async def query_for(
    rt: RunServices, session: AsyncSession, store_id: str, agent_id: str, text: str, budget: int
) -> Query:
    return Query(store_id, agent_id, text, budget)
