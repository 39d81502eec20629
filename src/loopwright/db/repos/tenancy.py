"""Stores and API keys. Keys are stored as SHA-256 hashes: they are 256-bit random tokens, so a
fast hash is safe and lets a request resolve its key with one indexed lookup."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos.paging import Page, newest_first, oldest_first
from loopwright.db.tables import ApiKeyRow, StoreRow
from loopwright.domain.vocabulary import Role
from loopwright.errors import Conflict, NotFound
from loopwright.ids import new_api_key, new_id


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    row: ApiKeyRow
    key: str


async def create_store(session: AsyncSession, store_id: str, name: str) -> StoreRow:
    if await session.get(StoreRow, store_id) is not None:
        raise Conflict(f"store {store_id!r} already exists", details={"id": store_id})
    row = StoreRow(id=store_id, name=name, event_seq=0, settings={})
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"store {store_id!r} already exists", details={"id": store_id}) from exc
    return row


async def get_store(session: AsyncSession, store_id: str) -> StoreRow:
    row = await session.get(StoreRow, store_id)
    if row is None:
        raise NotFound.of("store", store_id)
    return row


async def list_stores(session: AsyncSession, *, limit: int, cursor: str | None) -> Page[StoreRow]:
    """Every store, by id (the operator's view: the one listing across stores)."""
    return await oldest_first(session, select(StoreRow), StoreRow.id, limit=limit, cursor=cursor)


async def issue_key(session: AsyncSession, store_id: str, role: Role, name: str = "") -> IssuedKey:
    key = new_api_key()
    row = ApiKeyRow(
        id=new_id("key"),
        store_id=store_id,
        role=role,
        name=name,
        key_hash=hash_key(key),
        prefix=key[:10],
    )
    session.add(row)
    await session.flush()
    return IssuedKey(row=row, key=key)


async def find_key(session: AsyncSession, key: str) -> ApiKeyRow | None:
    return await session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(key)))


async def key_name(session: AsyncSession, store_id: str, key_id: str) -> str | None:
    """The name a key was given; None when it has none or is gone."""
    name = await session.scalar(
        select(ApiKeyRow.name).where(ApiKeyRow.store_id == store_id, ApiKeyRow.id == key_id)
    )
    return name or None


async def list_keys(
    session: AsyncSession, store_id: str, *, limit: int, cursor: str | None
) -> Page[ApiKeyRow]:
    query = select(ApiKeyRow).where(ApiKeyRow.store_id == store_id)
    return await newest_first(session, query, ApiKeyRow.id, limit=limit, cursor=cursor)


async def delete_key(session: AsyncSession, store_id: str, key_id: str) -> None:
    result = await session.execute(
        delete(ApiKeyRow).where(ApiKeyRow.store_id == store_id, ApiKeyRow.id == key_id)
    )
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound.of("key", key_id)
