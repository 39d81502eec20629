"""The tools of a store: built-in ones, HTTP tools it defines, and a "test tool" call that runs
one tool once outside a run (through the run's dispatcher and shared clients, so with the same
outcome as the model would get)."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Response

from loopwright.db.repos import http_tools, mcp_servers
from loopwright.errors import Conflict, LoopwrightError, ValidationFailed
from loopwright.runtime import toolbox
from loopwright.runtime.workspace import SessionWorkspace
from loopwright.server.auth import Admin, Reader, ServicesDep
from loopwright.server.openapi import CONFLICT
from loopwright.server.schemas.common import ListOf
from loopwright.server.schemas.tools import HttpToolCreate, ToolPublic, ToolTest, ToolTestResult
from loopwright.server.services import Services
from loopwright.tools import dispatch
from loopwright.tools.agents import AGENT_TOOLS
from loopwright.tools.builtin import BUILTIN_TOOLS
from loopwright.tools.spec import ToolArgumentsInvalid, ToolSpec
from loopwright.tools.workspace_port import ToolContext

router = APIRouter(prefix="/v1/stores/{store_id}/tools", tags=["tools"])

# Built into the server: not the store's to define or delete.
_BUILT_IN = BUILTIN_TOOLS | AGENT_TOOLS


async def extra_tools(svc: Services, store_id: str) -> list[ToolPublic]:
    """Tools discovered on the store's MCP servers, as ``server.tool``; a server that is down
    contributes none (its health check says why)."""
    async with svc.db.read(store_id) as session:
        rows = await mcp_servers.list_all(session, store_id)
    found: list[ToolPublic] = []
    for row in rows:
        if not row.enabled:
            continue
        try:
            endpoint = toolbox.mcp_endpoint(row, svc.runtime.secrets)
            listed = await svc.runtime.mcp.list_tools(endpoint)
        except LoopwrightError:
            continue
        found += [
            ToolPublic(
                name=tool.qualified_name,
                kind="mcp",
                description=tool.description,
                read_only=tool.read_only,
                parameters=tool.parameters,
            )
            for tool in listed
        ]
    return found


@router.get("")
async def list_tools(access: Reader, svc: ServicesDep) -> ListOf[ToolPublic]:
    items = [ToolPublic.builtin(spec) for spec in _BUILT_IN.values()]
    async with svc.db.read(access.store_id) as session:
        rows = await http_tools.list_all(session, access.store_id)
    secrets = svc.runtime.secrets
    items += [ToolPublic.of_http(r, list(http_tools.decrypt_headers(r, secrets))) for r in rows]
    items += await extra_tools(svc, access.store_id)
    return ListOf(items=items, next_cursor=None)


@router.post("", status_code=201, responses=CONFLICT)
async def create_tool(body: HttpToolCreate, access: Admin, svc: ServicesDep) -> ToolPublic:
    if body.name in _BUILT_IN:
        raise Conflict(
            f"{body.name!r} is the name of a built-in tool; choose another",
            details={"field": "name"},
        )
    await svc.runtime.egress.check_url(body.url)
    async with svc.db.write(access.store_id) as session:
        row = await http_tools.create(
            session,
            access.store_id,
            name=body.name,
            description=body.description,
            url=body.url,
            method=body.method,
            parameters=body.parameters,
            headers_enc=http_tools.encrypt_headers(body.headers, svc.runtime.secrets),
            read_only=body.read_only,
        )
    return ToolPublic.of_http(row, list(body.headers))


@router.delete("/{name}", status_code=204, responses=CONFLICT)
async def delete_tool(name: str, access: Admin, svc: ServicesDep) -> Response:
    if name in _BUILT_IN:
        raise Conflict(
            f"{name!r} is a built-in tool and cannot be deleted; unassign it from agents instead",
            details={"name": name, "kind": "builtin"},
        )
    async with svc.db.write(access.store_id) as session:
        await http_tools.remove(session, access.store_id, name)
    return Response(status_code=204)


@router.post("/{name}/test", responses=CONFLICT)
async def run_tool_once(
    name: str, body: ToolTest, access: Admin, svc: ServicesDep
) -> ToolTestResult:
    """Arguments that do not fit the tool's schema are a 422 here, before anything runs."""
    runtime = svc.runtime
    tool = await toolbox.find(svc.db, access.store_id, name, secrets=runtime.secrets)
    try:
        dispatch.check_arguments(tool, body.arguments)
    except ToolArgumentsInvalid as exc:
        raise ValidationFailed(
            f"the arguments do not match the schema of {exc.tool}",
            details={"tool": exc.tool, "problems": exc.problems},
        ) from exc
    key = f"test:{uuid.uuid4()}"
    timeout_s = svc.settings.tool_timeout_s
    started = time.perf_counter()
    if isinstance(tool, ToolSpec):  # acts in a transaction of its own, for no run
        context = ToolContext(access.store_id, run_id=None, session_id=None, agent_id=None)
        async with svc.db.write(access.store_id) as session:
            status, result = await dispatch.call(
                tool,
                body.arguments,
                clients=runtime,
                key=key,
                timeout_s=timeout_s,
                workspace=SessionWorkspace(session, context),
            )
    else:
        status, result = await dispatch.call(
            tool, body.arguments, clients=runtime, key=key, timeout_s=timeout_s
        )
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return ToolTestResult(ok=status == "ok", result=result, duration_ms=duration_ms)
