"""Model providers registered by a store."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.tables import ProviderRow


async def names(session: AsyncSession, store_id: str) -> frozenset[str]:
    rows = await session.scalars(select(ProviderRow.name).where(ProviderRow.store_id == store_id))
    return frozenset(rows.all())
