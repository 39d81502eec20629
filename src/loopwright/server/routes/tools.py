"""The tools of a store: built-in ones, HTTP tools it defines, and a "test tool" call that runs
one tool once outside a run (as the model would call it, and with the same outcome shape)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Response

from loopwright.db.repos import http_tools, mcp_servers
from loopwright.errors import Conflict, LoopwrightError, NotFound, ValidationFailed
from loopwright.runtime.builtin_handlers import ToolContext, invoke
from loopwright.server.auth import Admin, Reader, ServicesDep
from loopwright.server.schemas.common import ListOf
from loopwright.server.schemas.tools import HttpToolCreate, ToolPublic, ToolTest, ToolTestResult
from loopwright.server.services import Services
from loopwright.tools.builtin import BUILTIN_TOOLS
from loopwright.tools.http_tool import HttpToolDef, call_http_tool, validate_arguments
from loopwright.tools.spec import ToolArgumentsInvalid, ToolSpec

router = APIRouter(prefix="/v1/stores/{store_id}/tools", tags=["tools"])


async def extra_tools(svc: Services, store_id: str) -> list[ToolPublic]:
    """Tools discovered on the store's MCP servers, as ``server.tool``; a server that is down
    contributes none (its health check says why)."""
    async with svc.db.read() as session:
        rows = await mcp_servers.list_all(session, store_id)
    found: list[ToolPublic] = []
    for row in rows:
        if not row.enabled:
            continue
        try:
            endpoint = mcp_servers.endpoint_of(row, svc.runtime.secrets)
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
    items = [ToolPublic.builtin(spec) for spec in BUILTIN_TOOLS.values()]
    async with svc.db.read() as session:
        rows = await http_tools.list_all(session, access.store_id)
    secrets = svc.runtime.secrets
    items += [ToolPublic.of_http(r, list(http_tools.decrypt_headers(r, secrets))) for r in rows]
    items += await extra_tools(svc, access.store_id)
    return ListOf(items=items, next_cursor=None)


@router.post("", status_code=201)
async def create_tool(body: HttpToolCreate, access: Admin, svc: ServicesDep) -> ToolPublic:
    await svc.runtime.egress.check_url(body.url)
    async with svc.db.write() as session:
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


@router.delete("/{name}", status_code=204)
async def delete_tool(name: str, access: Admin, svc: ServicesDep) -> Response:
    if name in BUILTIN_TOOLS:
        raise Conflict(
            f"{name!r} is a built-in tool and cannot be deleted; unassign it from agents instead",
            details={"name": name, "kind": "builtin"},
        )
    async with svc.db.write() as session:
        await http_tools.remove(session, access.store_id, name)
    return Response(status_code=204)


@router.post("/{name}/test")
async def run_tool_once(
    name: str, body: ToolTest, access: Admin, svc: ServicesDep
) -> ToolTestResult:
    spec = BUILTIN_TOOLS.get(name)
    if spec is not None:
        started = time.perf_counter()
        ok, result = await _run_builtin(svc, access.store_id, spec, body.arguments)
    elif "." in name:
        started = time.perf_counter()
        ok, result = await _run_mcp(svc, access.store_id, name, body.arguments)
    else:
        async with svc.db.read() as session:
            row = await http_tools.find(session, access.store_id, name)
        if row is None:
            raise NotFound.of("tool", name)
        started = time.perf_counter()
        defn = http_tools.definition_of(row, svc.runtime.secrets)
        ok, result = await _run_http(svc, defn, body.arguments)
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return ToolTestResult(ok=ok, result=result, duration_ms=duration_ms)


async def _run_mcp(
    svc: Services, store_id: str, name: str, arguments: dict[str, Any]
) -> tuple[bool, Any]:
    server, _, tool = name.partition(".")
    async with svc.db.read() as session:
        row = next(
            (r for r in await mcp_servers.list_all(session, store_id) if r.name == server), None
        )
    if row is None:
        raise NotFound.of("tool", name)
    endpoint = mcp_servers.endpoint_of(row, svc.runtime.secrets)
    await svc.runtime.egress.check_url(endpoint.url)
    try:
        result = await svc.runtime.mcp.call_tool(
            endpoint,
            tool,
            arguments,
            idempotency_key=f"test:{uuid.uuid4()}",
            timeout_s=svc.settings.tool_timeout_s,
        )
    except LoopwrightError as exc:
        return False, {"error": exc.message}
    return result.ok, result.content


def _invalid(exc: ToolArgumentsInvalid) -> ValidationFailed:
    return ValidationFailed(
        f"the arguments do not match the schema of {exc.tool}",
        details={"tool": exc.tool, "problems": exc.problems},
    )


async def _run_builtin(
    svc: Services, store_id: str, spec: ToolSpec, arguments: dict[str, Any]
) -> tuple[bool, Any]:
    try:
        args = spec.validate(arguments)
    except ToolArgumentsInvalid as exc:
        raise _invalid(exc) from exc
    context = ToolContext(store_id, run_id=None, session_id=None, agent_id=None)
    async with svc.db.write() as session:
        return await invoke(
            session, context, spec.name, args, timeout_s=svc.settings.tool_timeout_s
        )


async def _run_http(
    svc: Services, defn: HttpToolDef, arguments: dict[str, Any]
) -> tuple[bool, Any]:
    try:
        validate_arguments(defn, arguments)
    except ToolArgumentsInvalid as exc:
        raise _invalid(exc) from exc
    return await call_http_tool(
        defn,
        arguments,
        client=svc.runtime.http,
        egress=svc.runtime.egress,
        idempotency_key=f"test:{uuid.uuid4()}",
        timeout_s=svc.settings.tool_timeout_s,
    )
