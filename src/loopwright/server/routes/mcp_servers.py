"""MCP servers of a store. Header values are encrypted at rest and never returned."""

from __future__ import annotations

from fastapi import APIRouter, Response

from loopwright.db.repos import mcp_servers
from loopwright.db.tables import McpServerRow
from loopwright.errors import ValidationFailed
from loopwright.runtime import toolbox
from loopwright.server.auth import Admin, Reader, ServicesDep
from loopwright.server.openapi import CONFLICT
from loopwright.server.schemas.common import ListOf
from loopwright.server.schemas.mcp import (
    McpHealth,
    McpServerCreate,
    McpServerPublic,
    McpServerUpdate,
)
from loopwright.server.schemas.urls import require_usable
from loopwright.server.services import Services

router = APIRouter(prefix="/v1/stores/{store_id}/mcp-servers", tags=["mcp"])


def _check_transport(transport: str | None) -> None:
    if transport == "stdio":
        raise ValidationFailed(
            "stdio MCP servers run commands on the server host, so only the operator can "
            "configure them; use streamable_http or sse",
            details={"field": "transport"},
        )


def _public(row: McpServerRow, svc: Services) -> McpServerPublic:
    names = sorted(mcp_servers.decrypt_headers(row, svc.runtime.secrets))
    return McpServerPublic.of(row, names)


@router.post("", status_code=201, responses=CONFLICT)
async def create_mcp_server(
    body: McpServerCreate, access: Admin, svc: ServicesDep
) -> McpServerPublic:
    _check_transport(body.transport)
    await svc.runtime.egress.check_url(body.url)
    async with svc.db.write(access.store_id) as session:
        row = await mcp_servers.create(
            session,
            access.store_id,
            name=body.name,
            transport=body.transport,
            url=body.url,
            headers_enc=mcp_servers.encrypt_headers(body.headers, svc.runtime.secrets),
        )
    return _public(row, svc)


@router.get("")
async def list_mcp_servers(access: Reader, svc: ServicesDep) -> ListOf[McpServerPublic]:
    async with svc.db.read(access.store_id) as session:
        rows = await mcp_servers.list_all(session, access.store_id)
    return ListOf(items=[_public(r, svc) for r in rows], next_cursor=None)


@router.get("/{server_id}")
async def get_mcp_server(server_id: str, access: Reader, svc: ServicesDep) -> McpServerPublic:
    async with svc.db.read(access.store_id) as session:
        row = await mcp_servers.get(session, access.store_id, server_id)
    return _public(row, svc)


@router.patch("/{server_id}", responses=CONFLICT)
async def update_mcp_server(
    server_id: str, body: McpServerUpdate, access: Admin, svc: ServicesDep
) -> McpServerPublic:
    async with svc.db.read(access.store_id) as session:
        await mcp_servers.get(session, access.store_id, server_id)  # 404 before judging the body
    changes = body.model_dump(exclude_unset=True)
    _check_transport(changes.get("transport"))
    if "url" in changes:
        require_usable(changes["url"])
        await svc.runtime.egress.check_url(changes["url"])
    if "headers" in changes:
        headers = changes.pop("headers") or {}
        changes["headers_enc"] = mcp_servers.encrypt_headers(headers, svc.runtime.secrets)
    async with svc.db.write(access.store_id) as session:
        row = await mcp_servers.update(session, access.store_id, server_id, changes)
    return _public(row, svc)


@router.delete("/{server_id}", status_code=204)
async def delete_mcp_server(server_id: str, access: Admin, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        await mcp_servers.remove(session, access.store_id, server_id)
    await svc.runtime.mcp.forget(server_id)
    return Response(status_code=204)


@router.post("/{server_id}/health", response_model_exclude_none=True)
async def check_mcp_server(server_id: str, access: Admin, svc: ServicesDep) -> McpHealth:
    """Connect (or reuse the live session), list the tools and time it; 200 either way."""
    async with svc.db.read(access.store_id) as session:
        row = await mcp_servers.get(session, access.store_id, server_id)
    await svc.runtime.egress.check_url(row.url)
    endpoint = toolbox.mcp_endpoint(row, svc.runtime.secrets)
    return McpHealth.model_validate(await svc.runtime.mcp.health(endpoint))
