"""Inbound webhooks of a store: each has a URL (``/hooks/{id}``, see ``routes/hooks.py``)
and a secret shown once, at creation."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from loopwright.db.repos import agents, webhooks
from loopwright.db.tables import WebhookRow
from loopwright.runtime import signing
from loopwright.server.auth import Admin, Reader, ServicesDep
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.triggers import (
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhookReceiptPublic,
    WebhookUpdate,
)
from loopwright.server.services import Services

router = APIRouter(prefix="/v1/stores/{store_id}/webhooks", tags=["webhooks"])


def hook_url(svc: Services, request: Request, row: WebhookRow) -> str:
    base = svc.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/hooks/{row.id}"


@router.post("", status_code=201)
async def create_webhook(
    body: WebhookCreate, request: Request, access: Admin, svc: ServicesDep
) -> WebhookCreated:
    """The secret is in this answer only."""
    secret = signing.new_secret()
    async with svc.db.write(access.store_id) as session:
        await agents.get(session, access.store_id, body.agent_id)
        row = await webhooks.create(
            session,
            access.store_id,
            **body.model_dump(),
            secret_enc=svc.runtime.secrets.encrypt(secret),
        )
    public = WebhookPublic.of(row, hook_url(svc, request, row))
    return WebhookCreated(**public.model_dump(), secret=secret)


@router.get("")
async def list_webhooks(
    request: Request, access: Reader, svc: ServicesDep, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[WebhookPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await webhooks.list_page(session, access.store_id, limit=limit, cursor=cursor)
    return ListOf(
        items=[WebhookPublic.of(r, hook_url(svc, request, r)) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{webhook_id}")
async def get_webhook(
    webhook_id: str, request: Request, access: Reader, svc: ServicesDep
) -> WebhookPublic:
    async with svc.db.read(access.store_id) as session:
        row = await webhooks.get(session, access.store_id, webhook_id)
    return WebhookPublic.of(row, hook_url(svc, request, row))


@router.patch("/{webhook_id}")
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, request: Request, access: Admin, svc: ServicesDep
) -> WebhookPublic:
    async with svc.db.write(access.store_id) as session:
        row = await webhooks.update_row(
            session, access.store_id, webhook_id, body.model_dump(exclude_unset=True)
        )
    return WebhookPublic.of(row, hook_url(svc, request, row))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, access: Admin, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        await webhooks.remove(session, access.store_id, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/receipts")
async def list_receipts(
    webhook_id: str, access: Reader, svc: ServicesDep, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[WebhookReceiptPublic]:
    """The messages this webhook accepted, newest first, with the run each started."""
    async with svc.db.read(access.store_id) as session:
        await webhooks.get(session, access.store_id, webhook_id)
        page = await webhooks.receipts(
            session, access.store_id, webhook_id, limit=limit, cursor=cursor
        )
    return ListOf(
        items=[WebhookReceiptPublic.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
    )
