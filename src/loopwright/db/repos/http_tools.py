"""HTTP tools defined by a store. Their headers (which carry secrets) are stored as one
encrypted JSON object, and are decrypted only to call the tool or to list the header names.
Names are unique per store; the route keeps the built-in tools' names free."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.crypto import SecretBox
from loopwright.db.tables import HttpToolRow
from loopwright.errors import Conflict, NotFound
from loopwright.ids import new_id


async def create(
    session: AsyncSession,
    store_id: str,
    *,
    name: str,
    description: str,
    url: str,
    method: str,
    parameters: dict[str, Any],
    headers_enc: str | None,
    read_only: bool,
) -> HttpToolRow:
    if await find(session, store_id, name) is not None:
        raise Conflict(f"a tool named {name!r} already exists", details={"field": "name"})
    row = HttpToolRow(
        id=new_id("htl"),
        store_id=store_id,
        name=name,
        description=description,
        url=url,
        method=method,
        parameters=parameters,
        headers_enc=headers_enc,
        read_only=read_only,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a tool named {name!r} already exists") from exc
    return row


async def find(session: AsyncSession, store_id: str, name: str) -> HttpToolRow | None:
    return await session.scalar(
        select(HttpToolRow).where(HttpToolRow.store_id == store_id, HttpToolRow.name == name)
    )


async def get_by_name(session: AsyncSession, store_id: str, name: str) -> HttpToolRow:
    row = await find(session, store_id, name)
    if row is None:
        raise NotFound.of("tool", name)
    return row


async def list_all(session: AsyncSession, store_id: str) -> list[HttpToolRow]:
    query = select(HttpToolRow).where(HttpToolRow.store_id == store_id).order_by(HttpToolRow.name)
    return list((await session.scalars(query)).all())


async def remove(session: AsyncSession, store_id: str, name: str) -> None:
    result = await session.execute(
        delete(HttpToolRow).where(HttpToolRow.store_id == store_id, HttpToolRow.name == name)
    )
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound.of("tool", name)


def encrypt_headers(headers: dict[str, str], secrets: SecretBox) -> str | None:
    return secrets.encrypt(json.dumps(headers)) if headers else None


def decrypt_headers(row: HttpToolRow, secrets: SecretBox) -> dict[str, str]:
    if row.headers_enc is None:
        return {}
    found: dict[str, str] = json.loads(secrets.decrypt(row.headers_enc))
    return found
