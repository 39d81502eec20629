"""Model providers registered by a store (API keys arrive here already encrypted)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.tables import ProviderRow
from loopwright.errors import Conflict, NotFound
from loopwright.ids import new_id


async def names(session: AsyncSession, store_id: str) -> frozenset[str]:
    rows = await session.scalars(select(ProviderRow.name).where(ProviderRow.store_id == store_id))
    return frozenset(rows.all())


async def create(
    session: AsyncSession,
    store_id: str,
    *,
    name: str,
    kind: str,
    base_url: str | None,
    api_key_enc: str | None,
) -> ProviderRow:
    if await find(session, store_id, name) is not None:
        raise Conflict(f"a provider named {name!r} already exists", details={"field": "name"})
    row = ProviderRow(
        id=new_id("prv"),
        store_id=store_id,
        name=name,
        kind=kind,
        base_url=base_url,
        api_key_enc=api_key_enc,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a provider named {name!r} already exists") from exc
    return row


async def find(session: AsyncSession, store_id: str, name: str) -> ProviderRow | None:
    return await session.scalar(
        select(ProviderRow).where(ProviderRow.store_id == store_id, ProviderRow.name == name)
    )


async def list_all(session: AsyncSession, store_id: str) -> list[ProviderRow]:
    query = select(ProviderRow).where(ProviderRow.store_id == store_id).order_by(ProviderRow.id)
    return list((await session.scalars(query)).all())


async def remove(session: AsyncSession, store_id: str, provider_id: str) -> None:
    result = await session.execute(
        delete(ProviderRow).where(ProviderRow.store_id == store_id, ProviderRow.id == provider_id)
    )
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound.of("provider", provider_id)
