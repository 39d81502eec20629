"""Completion callbacks: their delivery log, and the secret that verifies them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from loopwright.db.repos import deliveries
from loopwright.runtime import callbacks
from loopwright.server.auth import Admin, Reader, ServicesDep
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.triggers import DeliveryPublic, SigningSecret

router = APIRouter(prefix="/v1/stores/{store_id}", tags=["webhooks"])


@router.get("/deliveries")
async def list_deliveries(
    access: Reader,
    svc: ServicesDep,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[DeliveryPublic]:
    """Completion callbacks, newest first, each with its attempts."""
    async with svc.db.read(access.store_id) as session:
        page = await deliveries.list_page(
            session, access.store_id, run_id=run_id, limit=limit, cursor=cursor
        )
    return ListOf(items=[DeliveryPublic.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/signing-secret")
async def get_signing_secret(access: Admin, svc: ServicesDep) -> SigningSecret:
    """The store's secret that signs its completion callbacks (made at its first use)."""
    secret = await callbacks.store_secret(svc.db, svc.runtime.secrets, access.store_id)
    return SigningSecret(secret=secret)
