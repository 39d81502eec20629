"""Every encrypted column, for the start-up key check and for key rotation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.crypto import SecretBox
from loopwright.db.tables import HttpToolRow, McpServerRow, ProviderRow, WebhookRow

ENCRYPTED_COLUMNS: tuple[Any, ...] = (
    ProviderRow.api_key_enc,
    HttpToolRow.headers_enc,
    McpServerRow.headers_enc,
    WebhookRow.secret_enc,
)


async def verify(session: AsyncSession, box: SecretBox) -> None:
    """Decrypt one stored secret per column; ``SecretKeyMismatch`` if the keys are wrong."""
    for column in ENCRYPTED_COLUMNS:
        token = await session.scalar(select(column).where(column.is_not(None)).limit(1))
        if token is not None:
            box.decrypt(token)


async def rotate(session: AsyncSession, box: SecretBox) -> int:
    """Re-encrypt every stored secret under the newest key; returns how many changed."""
    changed = 0
    for column in ENCRYPTED_COLUMNS:
        table = column.class_
        rows = (await session.execute(select(table.id, column).where(column.is_not(None)))).all()
        for row_id, token in rows:
            await session.execute(
                update(table).where(table.id == row_id).values({column.key: box.rotate(token)})
            )
            changed += 1
    return changed
