"""Completion callbacks (an outbox) and each store's secret that signs them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import send_held_before_savepoint
from loopwright.db.repos.paging import Page, newest_first
from loopwright.db.tables import DeliveryRow, RunRow, SigningKeyRow
from loopwright.domain.vocabulary import TERMINAL_RUN_STATUSES
from loopwright.ids import new_id

_OPEN = ("waiting", "pending")


async def add(
    session: AsyncSession,
    store_id: str,
    run_id: str,
    url: str,
    meta: dict[str, Any] | None = None,
) -> DeliveryRow:
    row = DeliveryRow(
        id=new_id("dlv"),
        store_id=store_id,
        run_id=run_id,
        url=url,
        status="waiting",
        meta=meta or {},
    )
    session.add(row)
    await session.flush()
    return row


async def list_page(
    session: AsyncSession,
    store_id: str,
    *,
    run_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[DeliveryRow]:
    query = select(DeliveryRow).where(DeliveryRow.store_id == store_id)
    if run_id is not None:
        query = query.where(DeliveryRow.run_id == run_id)
    return await newest_first(session, query, DeliveryRow.id, limit=limit, cursor=cursor)


async def ready(session: AsyncSession, now: datetime, limit: int = 20) -> list[DeliveryRow]:
    """Callbacks whose run has ended, due for an attempt and not leased by a process now."""
    query = (
        select(DeliveryRow)
        .join(RunRow, RunRow.id == DeliveryRow.run_id)
        .where(
            DeliveryRow.status.in_(_OPEN),
            RunRow.status.in_(sorted(TERMINAL_RUN_STATUSES)),
            or_(DeliveryRow.next_attempt_at.is_(None), DeliveryRow.next_attempt_at <= now),
            or_(DeliveryRow.lease_until.is_(None), DeliveryRow.lease_until < now),
        )
        .order_by(DeliveryRow.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def lease(session: AsyncSession, delivery_id: str, now: datetime, until: datetime) -> bool:
    """Take the callback for one attempt: False when another process has it."""
    result = await session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.id == delivery_id,
            DeliveryRow.status.in_(_OPEN),
            or_(DeliveryRow.lease_until.is_(None), DeliveryRow.lease_until < now),
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_attempt(
    session: AsyncSession,
    delivery_id: str,
    attempt: dict[str, Any],
    *,
    status: str,
    next_attempt_at: datetime | None,
    delivered_at: datetime | None,
) -> None:
    row = await session.get(DeliveryRow, delivery_id)
    if row is None:  # its store was deleted meanwhile
        return
    row.attempts_log = [*row.attempts_log, attempt]
    row.attempts = len(row.attempts_log)
    row.status = status
    row.next_attempt_at = next_attempt_at
    row.delivered_at = delivered_at
    row.lease_until = None
    await session.flush()


async def signing_secret(session: AsyncSession, store_id: str) -> str | None:
    found: str | None = await session.scalar(
        select(SigningKeyRow.secret_enc).where(SigningKeyRow.store_id == store_id)
    )
    return found


async def add_signing_secret(session: AsyncSession, store_id: str, secret_enc: str) -> bool:
    """False when the store has one already (made by another request meanwhile)."""
    await send_held_before_savepoint(session)  # what came before: its errors are not ours
    try:
        async with session.begin_nested():
            session.add(SigningKeyRow(store_id=store_id, secret_enc=secret_enc))
            await session.flush()
    except IntegrityError:
        return False
    return True
