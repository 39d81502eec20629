"""Schedules of a store and their fires. The scheduler's questions (what is due, when is the
next) span every store: they only find ids; each fire then works inside its own store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos.paging import Page, newest_first
from loopwright.db.tables import ScheduleFireRow, ScheduleRow
from loopwright.errors import NotFound
from loopwright.ids import new_id


async def create(session: AsyncSession, store_id: str, **fields: Any) -> ScheduleRow:
    row = ScheduleRow(id=new_id("sch"), store_id=store_id, **fields)
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, store_id: str, schedule_id: str) -> ScheduleRow:
    row = await session.scalar(
        select(ScheduleRow).where(ScheduleRow.store_id == store_id, ScheduleRow.id == schedule_id)
    )
    if row is None:
        raise NotFound.of("schedule", schedule_id)
    return row


async def list_page(
    session: AsyncSession, store_id: str, *, limit: int, cursor: str | None
) -> Page[ScheduleRow]:
    query = select(ScheduleRow).where(ScheduleRow.store_id == store_id)
    return await newest_first(session, query, ScheduleRow.id, limit=limit, cursor=cursor)


async def update_row(
    session: AsyncSession, store_id: str, schedule_id: str, changes: dict[str, Any]
) -> ScheduleRow:
    row = await get(session, store_id, schedule_id)
    for name, value in changes.items():
        setattr(row, name, value)
    await session.flush()
    return row


async def remove(session: AsyncSession, store_id: str, schedule_id: str) -> None:
    await get(session, store_id, schedule_id)
    await session.execute(
        delete(ScheduleFireRow).where(
            ScheduleFireRow.store_id == store_id, ScheduleFireRow.schedule_id == schedule_id
        )
    )
    await session.execute(
        delete(ScheduleRow).where(ScheduleRow.store_id == store_id, ScheduleRow.id == schedule_id)
    )


async def fires(
    session: AsyncSession, store_id: str, schedule_id: str, *, limit: int, cursor: str | None
) -> Page[ScheduleFireRow]:
    query = select(ScheduleFireRow).where(
        ScheduleFireRow.store_id == store_id, ScheduleFireRow.schedule_id == schedule_id
    )
    return await newest_first(session, query, ScheduleFireRow.id, limit=limit, cursor=cursor)


async def due(session: AsyncSession, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
    """``(store_id, schedule_id)`` of enabled schedules whose next fire time has come."""
    rows = await session.execute(
        select(ScheduleRow.store_id, ScheduleRow.id)
        .where(ScheduleRow.enabled.is_(True), ScheduleRow.next_due_at <= now)
        .order_by(ScheduleRow.next_due_at)
        .limit(limit)
    )
    return [(r.store_id, r.id) for r in rows]


async def earliest(session: AsyncSession) -> datetime | None:
    found: datetime | None = await session.scalar(
        select(func.min(ScheduleRow.next_due_at)).where(ScheduleRow.enabled.is_(True))
    )
    return found


async def advance(
    session: AsyncSession,
    store_id: str,
    schedule_id: str,
    *,
    due_at: datetime,
    next_due_at: datetime | None,
    fired_at: datetime,
    session_id: str | None = None,
) -> bool:
    """Move the schedule past ``due_at`` if it is still there (compare and set): False when
    another process fired it first. On PostgreSQL the second waits for the first's commit and
    then matches nothing."""
    values: dict[str, Any] = {"next_due_at": next_due_at, "last_run_at": fired_at}
    if session_id is not None:
        values["session_id"] = session_id
    result = await session.execute(
        update(ScheduleRow)
        .where(
            ScheduleRow.store_id == store_id,
            ScheduleRow.id == schedule_id,
            ScheduleRow.enabled.is_(True),
            ScheduleRow.next_due_at == due_at,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def add_fire(session: AsyncSession, store_id: str, **fields: Any) -> ScheduleFireRow:
    """The fire's row: unique by ``(schedule_id, due_at)``, so a due time fires once even if
    two processes got past ``advance``."""
    row = ScheduleFireRow(id=new_id("fir"), store_id=store_id, **fields)
    session.add(row)
    await session.flush()
    return row
