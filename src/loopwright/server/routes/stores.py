"""Stores (operator) and API keys (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from loopwright.db.repos import tenancy
from loopwright.db.row_security import ALL_STORES
from loopwright.server.auth import Admin, OperatorDep, Reader, ServicesDep
from loopwright.server.openapi import CONFLICT
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.tenancy import (
    KeyCreate,
    KeyIssued,
    KeyPublic,
    StoreCreate,
    StorePublic,
)

router = APIRouter(prefix="/v1/stores", tags=["stores"])


@router.post("", status_code=201, responses=CONFLICT)
async def create_store(body: StoreCreate, _: OperatorDep, svc: ServicesDep) -> StorePublic:
    async with svc.db.write(ALL_STORES) as session:  # the operator's: no store yet
        row = await tenancy.create_store(session, body.id, body.name or body.id)
    return StorePublic.model_validate(row)


@router.get("")
async def list_stores(
    _: OperatorDep, svc: ServicesDep, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[StorePublic]:
    """Every store, by id (operator)."""
    async with svc.db.read(ALL_STORES) as session:
        page = await tenancy.list_stores(session, limit=limit, cursor=cursor)
    return ListOf(
        items=[StorePublic.model_validate(s) for s in page.items], next_cursor=page.next_cursor
    )


@router.get("/{store_id}")
async def get_store(access: Reader, svc: ServicesDep) -> StorePublic:
    async with svc.db.read(access.store_id) as session:
        row = await tenancy.get_store(session, access.store_id)
    return StorePublic.model_validate(row)


@router.post("/{store_id}/keys", status_code=201)
async def create_key(body: KeyCreate, access: Admin, svc: ServicesDep) -> KeyIssued:
    async with svc.db.write(access.store_id) as session:
        await tenancy.get_store(session, access.store_id)
        issued = await tenancy.issue_key(session, access.store_id, body.role, body.name)
    return KeyIssued(**KeyPublic.model_validate(issued.row).model_dump(), key=issued.key)


@router.get("/{store_id}/keys")
async def list_keys(
    access: Admin, svc: ServicesDep, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[KeyPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await tenancy.list_keys(session, access.store_id, limit=limit, cursor=cursor)
    return ListOf(
        items=[KeyPublic.model_validate(k) for k in page.items], next_cursor=page.next_cursor
    )


@router.delete("/{store_id}/keys/{key_id}", status_code=204)
async def delete_key(key_id: str, access: Admin, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        await tenancy.delete_key(session, access.store_id, key_id)
    svc.keys.forget(key_id)
    return Response(status_code=204)
