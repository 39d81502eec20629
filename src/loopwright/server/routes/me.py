"""Who am I: the store and role of the calling key, so a client (the web UI) can adapt."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from loopwright.db.repos import tenancy
from loopwright.server.auth import CallerDep, ServicesDep

router = APIRouter(prefix="/v1", tags=["keys"])


class Me(BaseModel):
    store_id: str | None = Field(description="the key's store; null for the operator key")
    role: str = Field(description="operator, admin, member or readonly")
    key_id: str | None = None
    name: str | None = Field(default=None, description="the key's name, if it has one")


@router.get("/me")
async def me(principal: CallerDep, svc: ServicesDep) -> Me:
    if principal.is_operator:
        return Me(store_id=None, role="operator")
    assert principal.store_id is not None and principal.key_id is not None
    async with svc.db.read(principal.store_id) as session:
        name = await tenancy.key_name(session, principal.store_id, principal.key_id)
    return Me(store_id=principal.store_id, role=principal.role, key_id=principal.key_id, name=name)
