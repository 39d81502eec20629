"""E-mail routing: the agent an address names, and who may e-mail it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.tables import AgentRow, MailSendersRow, StoreRow


async def agent_for(session: AsyncSession, store_id: str, name: str) -> AgentRow | None:
    """The store's active agent named ``name`` (case-insensitive), if any."""
    found: AgentRow | None = await session.scalar(
        select(AgentRow)
        .join(StoreRow, StoreRow.id == AgentRow.store_id)
        .where(
            AgentRow.store_id == store_id,
            func.lower(AgentRow.name) == name.lower(),
            AgentRow.status == "active",
        )
    )
    return found


async def senders(session: AsyncSession, store_id: str, agent_id: str) -> list[str]:
    found = await session.scalar(
        select(MailSendersRow.senders).where(
            MailSendersRow.store_id == store_id, MailSendersRow.agent_id == agent_id
        )
    )
    return list(found or [])


async def set_senders(
    session: AsyncSession, store_id: str, agent_id: str, allowed: list[str]
) -> list[str]:
    row = await session.get(MailSendersRow, agent_id)
    if row is None:
        session.add(MailSendersRow(agent_id=agent_id, store_id=store_id, senders=allowed))
    else:
        row.senders = allowed
    await session.flush()
    return allowed
