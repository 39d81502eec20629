"""Inbound webhooks of a store (their secrets encrypted at rest) and the messages each
accepted (``webhook-id`` unique per webhook)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos.paging import Page, newest_first
from loopwright.db.tables import WebhookReceiptRow, WebhookRow
from loopwright.errors import NotFound
from loopwright.ids import new_id


async def create(session: AsyncSession, store_id: str, **fields: Any) -> WebhookRow:
    row = WebhookRow(id=new_id("whk"), store_id=store_id, **fields)
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, store_id: str, webhook_id: str) -> WebhookRow:
    row = await session.scalar(
        select(WebhookRow).where(WebhookRow.store_id == store_id, WebhookRow.id == webhook_id)
    )
    if row is None:
        raise NotFound.of("webhook", webhook_id)
    return row


async def find(session: AsyncSession, webhook_id: str) -> WebhookRow:
    """The webhook a POST to its URL names, whichever store has it (the URL is the only
    thing the sender knows; the run goes to that webhook's store)."""
    row = await session.scalar(select(WebhookRow).where(WebhookRow.id == webhook_id))
    if row is None or not row.enabled:
        raise NotFound.of("webhook", webhook_id)
    return row


async def list_page(
    session: AsyncSession, store_id: str, *, limit: int, cursor: str | None
) -> Page[WebhookRow]:
    query = select(WebhookRow).where(WebhookRow.store_id == store_id)
    return await newest_first(session, query, WebhookRow.id, limit=limit, cursor=cursor)


async def update_row(
    session: AsyncSession, store_id: str, webhook_id: str, changes: dict[str, Any]
) -> WebhookRow:
    row = await get(session, store_id, webhook_id)
    for name, value in changes.items():
        setattr(row, name, value)
    await session.flush()
    return row


async def remove(session: AsyncSession, store_id: str, webhook_id: str) -> None:
    await get(session, store_id, webhook_id)
    await session.execute(
        delete(WebhookReceiptRow).where(
            WebhookReceiptRow.store_id == store_id, WebhookReceiptRow.webhook_id == webhook_id
        )
    )
    await session.execute(
        delete(WebhookRow).where(WebhookRow.store_id == store_id, WebhookRow.id == webhook_id)
    )


async def received(session: AsyncSession, webhook_id: str, message_id: str) -> str | None:
    """The run a message id already started, if it was accepted before."""
    row = await session.scalar(
        select(WebhookReceiptRow).where(
            WebhookReceiptRow.webhook_id == webhook_id,
            WebhookReceiptRow.message_id == message_id,
        )
    )
    return None if row is None else (row.run_id or "")


async def add_receipt(
    session: AsyncSession, store_id: str, webhook_id: str, message_id: str, run_id: str
) -> None:
    session.add(
        WebhookReceiptRow(
            id=new_id("whr"),
            store_id=store_id,
            webhook_id=webhook_id,
            message_id=message_id,
            run_id=run_id,
        )
    )
    await session.flush()


async def receipts(
    session: AsyncSession, store_id: str, webhook_id: str, *, limit: int, cursor: str | None
) -> Page[WebhookReceiptRow]:
    query = select(WebhookReceiptRow).where(
        WebhookReceiptRow.store_id == store_id, WebhookReceiptRow.webhook_id == webhook_id
    )
    return await newest_first(session, query, WebhookReceiptRow.id, limit=limit, cursor=cursor)
