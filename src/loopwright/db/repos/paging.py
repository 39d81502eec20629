"""Keyset pagination over time-ordered ids (newest or oldest first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


async def _page(
    session: AsyncSession,
    query: Select[T],
    id_column: InstrumentedAttribute[Any],
    *,
    limit: int,
    cursor: str | None,
    newest: bool,
) -> Page[T]:
    if cursor:
        query = query.where(id_column < cursor if newest else id_column > cursor)
    order = id_column.desc() if newest else id_column.asc()
    rows = list((await session.scalars(query.order_by(order).limit(limit + 1))).all())
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    rows = rows[:limit]
    return Page(items=rows, next_cursor=str(getattr(rows[-1], id_column.key)))


async def newest_first(
    session: AsyncSession,
    query: Select[T],
    id_column: InstrumentedAttribute[Any],
    *,
    limit: int,
    cursor: str | None,
) -> Page[T]:
    return await _page(session, query, id_column, limit=limit, cursor=cursor, newest=True)


async def oldest_first(
    session: AsyncSession,
    query: Select[T],
    id_column: InstrumentedAttribute[Any],
    *,
    limit: int,
    cursor: str | None,
) -> Page[T]:
    return await _page(session, query, id_column, limit=limit, cursor=cursor, newest=False)
