"""Who is calling: an API key resolves to ``(store, role)`` before any handler runs.

A key of another store gets exactly what a missing store gets (404); no key or an unknown key
gets 401; a role below the route's requirement gets 403.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from loopwright.db.repos import tenancy
from loopwright.db.row_security import ALL_STORES
from loopwright.domain.vocabulary import ROLE_RANK, Role
from loopwright.errors import Forbidden, NotFound, Unauthenticated
from loopwright.server.key_cache import CachedKey, KeyRecord
from loopwright.server.services import Services


@dataclass(frozen=True, slots=True)
class Principal:
    store_id: str | None  # None for the operator
    role: Role
    key_id: str | None

    @property
    def is_operator(self) -> bool:
        return self.store_id is None


async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


async def resolve(svc: Services, token: str | None) -> Principal:
    if not token:
        raise Unauthenticated("missing bearer API key")
    operator = svc.settings.operator_key
    if operator is not None and hmac.compare_digest(token, operator.get_secret_value()):
        return Principal(store_id=None, role="admin", key_id=None)
    cached = await lookup(svc, token)
    if cached is None:
        raise Unauthenticated("invalid API key")
    return Principal(store_id=cached.store_id, role=_role(cached.role), key_id=cached.key_id)


async def lookup(svc: Services, token: str) -> CachedKey | None:
    """A store key as the cache knows it (looked up when its entry expired); None if gone."""

    async def load() -> KeyRecord | None:
        async with svc.db.read(ALL_STORES) as session:
            row = await tenancy.find_key(session, token)
        return None if row is None else KeyRecord(row.store_id, row.role, row.id)

    return await svc.keys.lookup(tenancy.hash_key(token), load)


def _role(value: str) -> Role:
    return "admin" if value == "admin" else "member" if value == "member" else "readonly"


BEARER = HTTPBearer(
    auto_error=False,
    description="An API key of a store (or the operator key): `Authorization: Bearer <key>`. "
    "An operation's requirement names the role it needs (`readonly`, `member`, `admin`, "
    "`operator`); a key below it gets 403.",
)
"""Reads the key as ``bearer_token`` does; declaring it makes every route that needs a key
carry the bearer security scheme in the OpenAPI document (and so `/docs` can authorize)."""

BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


async def caller(svc: ServicesDep, credentials: BearerDep) -> Principal:
    return await resolve(svc, None if credentials is None else credentials.credentials)


CallerDep = Annotated[Principal, Depends(caller)]


def admit(principal: Principal, store_id: str, needed: Role) -> None:
    if not principal.is_operator and principal.store_id != store_id:
        raise NotFound.of("store", store_id)
    if ROLE_RANK[principal.role] < ROLE_RANK[needed]:
        raise Forbidden(f"this call needs the {needed!r} role", details={"role": principal.role})


@dataclass(frozen=True, slots=True)
class StoreAccess:
    """The store a request acts in, already checked against the caller's key."""

    store_id: str
    principal: Principal


def _access(needed: Role) -> object:
    async def dependency(store_id: str, principal: CallerDep) -> StoreAccess:
        admit(principal, store_id, needed)
        return StoreAccess(store_id=store_id, principal=principal)

    # The role, as a "scope" of the bearer requirement: OpenAPI 3.1 lets a non-OAuth scheme name
    # the roles an operation needs (and so the document knows which operations can answer 403).
    return Security(dependency, scopes=[needed])


Reader = Annotated[StoreAccess, _access("readonly")]
Member = Annotated[StoreAccess, _access("member")]
Admin = Annotated[StoreAccess, _access("admin")]


async def require_operator(principal: CallerDep) -> Principal:
    if not principal.is_operator:
        raise Forbidden("this call needs the operator key")
    return principal


OperatorDep = Annotated[Principal, Security(require_operator, scopes=["operator"])]
