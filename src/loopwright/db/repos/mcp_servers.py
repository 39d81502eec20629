"""MCP servers registered by a store. Their HTTP headers (credentials) are one encrypted blob."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.crypto import SecretBox
from loopwright.db.tables import McpServerRow
from loopwright.errors import Conflict, NotFound
from loopwright.ids import new_id


def _name_taken(name: str) -> Conflict:
    return Conflict(f"an MCP server named {name!r} already exists", details={"field": "name"})


def encrypt_headers(headers: dict[str, str], secrets: SecretBox) -> str | None:
    return secrets.encrypt(json.dumps(headers)) if headers else None


def decrypt_headers(row: McpServerRow, secrets: SecretBox) -> dict[str, str]:
    if row.headers_enc is None:
        return {}
    found: dict[str, str] = json.loads(secrets.decrypt(row.headers_enc))
    return found


async def create(
    session: AsyncSession,
    store_id: str,
    *,
    name: str,
    transport: str,
    url: str,
    headers_enc: str | None,
) -> McpServerRow:
    if await _find_by_name(session, store_id, name) is not None:
        raise _name_taken(name)
    row = McpServerRow(
        id=new_id("mcp"),
        store_id=store_id,
        name=name,
        transport=transport,
        url=url,
        headers_enc=headers_enc,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _name_taken(name) from exc
    return row


async def get(session: AsyncSession, store_id: str, server_id: str) -> McpServerRow:
    row = await session.scalar(
        select(McpServerRow).where(McpServerRow.store_id == store_id, McpServerRow.id == server_id)
    )
    if row is None:
        raise NotFound.of("mcp_server", server_id)
    return row


async def _find_by_name(session: AsyncSession, store_id: str, name: str) -> McpServerRow | None:
    return await session.scalar(
        select(McpServerRow).where(McpServerRow.store_id == store_id, McpServerRow.name == name)
    )


async def list_all(session: AsyncSession, store_id: str) -> list[McpServerRow]:
    query = select(McpServerRow).where(McpServerRow.store_id == store_id).order_by(McpServerRow.id)
    return list((await session.scalars(query)).all())


async def update(
    session: AsyncSession, store_id: str, server_id: str, changes: dict[str, Any]
) -> McpServerRow:
    """Apply ``changes`` (column name → value; headers already encrypted as ``headers_enc``)."""
    row = await get(session, store_id, server_id)
    new_name = changes.get("name")
    if (
        new_name is not None
        and new_name != row.name
        and await _find_by_name(session, store_id, new_name) is not None
    ):
        raise _name_taken(new_name)
    for column, value in changes.items():
        setattr(row, column, value)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _name_taken(str(new_name)) from exc
    return row


async def remove(session: AsyncSession, store_id: str, server_id: str) -> None:
    result = await session.execute(
        delete(McpServerRow).where(McpServerRow.store_id == store_id, McpServerRow.id == server_id)
    )
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound.of("mcp_server", server_id)
