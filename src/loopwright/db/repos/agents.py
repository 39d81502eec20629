"""Agents of one store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos.paging import Page, newest_first
from loopwright.db.tables import AgentRow
from loopwright.errors import Conflict, NotFound
from loopwright.ids import new_id


def _name_taken(name: str) -> Conflict:
    return Conflict(f"an agent named {name!r} already exists", details={"field": "name"})


async def create(session: AsyncSession, store_id: str, fields: dict[str, Any]) -> AgentRow:
    if await _find_by_name(session, store_id, fields["name"]) is not None:
        raise _name_taken(fields["name"])
    row = AgentRow(id=new_id("agt"), store_id=store_id, **fields)
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _name_taken(fields["name"]) from exc
    return row


async def get(session: AsyncSession, store_id: str, agent_id: str) -> AgentRow:
    row = await session.scalar(
        select(AgentRow).where(AgentRow.store_id == store_id, AgentRow.id == agent_id)
    )
    if row is None:
        raise NotFound.of("agent", agent_id)
    return row


async def get_by_name(session: AsyncSession, store_id: str, name: str) -> AgentRow:
    row = await _find_by_name(session, store_id, name)
    if row is None:
        raise NotFound.of("agent", name)
    return row


async def _find_by_name(session: AsyncSession, store_id: str, name: str) -> AgentRow | None:
    return await session.scalar(
        select(AgentRow).where(AgentRow.store_id == store_id, AgentRow.name == name)
    )


async def search(
    session: AsyncSession,
    store_id: str,
    *,
    q: str | None,
    status: str | None,
    mode: str | None,
    limit: int,
    cursor: str | None,
) -> Page[AgentRow]:
    query = select(AgentRow).where(AgentRow.store_id == store_id)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(
            or_(
                func.lower(AgentRow.name).like(pattern),
                func.lower(AgentRow.description).like(pattern),
            )
        )
    if status:
        query = query.where(AgentRow.status == status)
    if mode:
        query = query.where(AgentRow.mode == mode)
    return await newest_first(session, query, AgentRow.id, limit=limit, cursor=cursor)


async def update(
    session: AsyncSession, store_id: str, agent_id: str, changes: dict[str, Any]
) -> AgentRow:
    row = await get(session, store_id, agent_id)
    new_name = changes.get("name")
    if (
        new_name is not None
        and new_name != row.name
        and await _find_by_name(session, store_id, new_name) is not None
    ):
        raise _name_taken(new_name)
    for field, value in changes.items():
        setattr(row, field, value)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _name_taken(str(new_name)) from exc
    return row


async def remove(session: AsyncSession, store_id: str, agent_id: str) -> None:
    result = await session.execute(
        delete(AgentRow).where(AgentRow.store_id == store_id, AgentRow.id == agent_id)
    )
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound.of("agent", agent_id)
