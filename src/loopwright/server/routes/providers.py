"""Model providers of a store. API keys are encrypted at rest and never returned."""

from __future__ import annotations

from fastapi import APIRouter, Response

from loopwright.db.repos import providers
from loopwright.errors import Conflict
from loopwright.server.auth import Admin, Reader, ServicesDep
from loopwright.server.openapi import CONFLICT
from loopwright.server.schemas.common import ListOf
from loopwright.server.schemas.providers import ProviderCreate, ProviderPublic

router = APIRouter(prefix="/v1/stores/{store_id}/providers", tags=["providers"])
RESERVED = frozenset({"openai", "anthropic", "google", "offline"})


@router.post("", status_code=201, responses=CONFLICT)
async def create_provider(body: ProviderCreate, access: Admin, svc: ServicesDep) -> ProviderPublic:
    if body.name in RESERVED:
        raise Conflict(
            f"{body.name!r} is a server-wide provider name; choose another",
            details={"field": "name", "reserved": sorted(RESERVED)},
        )
    if body.base_url:
        await svc.runtime.egress.check_url(body.base_url)
    encrypted = svc.runtime.secrets.encrypt(body.api_key) if body.api_key else None
    async with svc.db.write(access.store_id) as session:
        row = await providers.create(
            session,
            access.store_id,
            name=body.name,
            kind=body.kind,
            base_url=body.base_url,
            api_key_enc=encrypted,
        )
    return ProviderPublic.of(row)


@router.get("")
async def list_providers(access: Reader, svc: ServicesDep) -> ListOf[ProviderPublic]:
    async with svc.db.read(access.store_id) as session:
        rows = await providers.list_all(session, access.store_id)
    return ListOf(items=[ProviderPublic.of(r) for r in rows], next_cursor=None)


@router.delete("/{provider_id}", status_code=204)
async def delete_provider(provider_id: str, access: Admin, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        await providers.remove(session, access.store_id, provider_id)
    svc.runtime.models.forget(access.store_id)
    return Response(status_code=204)
