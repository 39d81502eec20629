"""The session a trigger's message goes to: a new one for each message, or one it reuses
(made at its first message, made again if someone deleted it)."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import conversations
from loopwright.db.tables import SessionRow
from loopwright.domain.events import NewEvent
from loopwright.events import log

SessionPolicy = Literal["new", "reuse"]


async def session_for(
    session: AsyncSession,
    store_id: str,
    agent_id: str,
    *,
    policy: str,
    reused: str | None,
    title: str,
) -> str:
    """The session id to submit to; for ``reuse`` the caller stores it if it changed."""
    if policy == "reuse" and reused is not None:
        found = await session.scalar(
            select(SessionRow.id).where(
                SessionRow.store_id == store_id,
                SessionRow.id == reused,
                SessionRow.agent_id == agent_id,
            )
        )
        if found is not None:
            return reused
    chat = await conversations.create_session(
        session, store_id, agent_id, title=title[:300], busy_policy="enqueue"
    )
    await log.append(
        session,
        store_id,
        [NewEvent("session.created", {"agent_id": agent_id}, session_id=chat.id)],
    )
    return chat.id
