"""The tools a run may use, resolved per store: built-in, HTTP and MCP (``server.tool``).

The model sees each tool under a wire name that providers accept (``server.tool`` becomes
``server__tool``); calls come back under that name and are mapped to the assigned tool here.
The server decides what may run, whatever the model names: only assigned tools that exist.
An MCP server that is down only removes its own tools. A resolved tool's ``target`` is what
``tools.dispatch.call`` runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic_ai import ToolDefinition
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.crypto import SecretBox
from loopwright.db.database import Database
from loopwright.db.repos import http_tools, mcp_servers
from loopwright.db.tables import HttpToolRow, McpServerRow
from loopwright.errors import Conflict, LoopwrightError, NotFound
from loopwright.tools.agents import AGENT_TOOLS
from loopwright.tools.builtin import BUILTIN_TOOLS
from loopwright.tools.dispatch import McpTarget, Target
from loopwright.tools.http_tool import HttpToolDef, as_method
from loopwright.tools.mcp import McpEndpoint, McpPool, McpTransport

logger = logging.getLogger("loopwright.tools")
ToolKind = Literal["builtin", "http", "mcp", "child"]


def wire_name(name: str) -> str:
    return name.replace(".", "__")


@dataclass(frozen=True)
class RunTool:
    name: str
    kind: ToolKind
    read_only: bool
    definition: ToolDefinition
    target: Target


def http_definition(row: HttpToolRow, secrets: SecretBox) -> HttpToolDef:
    """The callable definition of a stored HTTP tool, its headers decrypted."""
    return HttpToolDef(
        name=row.name,
        description=row.description,
        url=row.url,
        method=as_method(row.method),
        parameters=row.parameters,
        headers=http_tools.decrypt_headers(row, secrets),
        read_only=row.read_only,
    )


def mcp_endpoint(row: McpServerRow, secrets: SecretBox) -> McpEndpoint:
    """What the MCP pool needs to reach a stored server (headers decrypted)."""
    transport: McpTransport = "sse" if row.transport == "sse" else "streamable_http"
    return McpEndpoint(
        server_id=row.id,
        name=row.name,
        transport=transport,
        url=row.url,
        headers=mcp_servers.decrypt_headers(row, secrets),
    )


async def resolve(
    db: Database,
    store_id: str,
    names: Iterable[str],
    *,
    secrets: SecretBox,
    mcp: McpPool,
) -> dict[str, RunTool]:
    """The assigned tools that exist now, keyed by wire name. Built-in tools need no query,
    so an agent with only built-in tools resolves without touching the database."""
    found: dict[str, RunTool] = {}
    others: list[str] = []
    for name in names:
        if (spec := BUILTIN_TOOLS.get(name)) is not None:
            found[wire_name(name)] = RunTool(
                name, "builtin", spec.read_only, spec.definition(), target=spec
            )
        elif (spec := AGENT_TOOLS.get(name)) is not None:
            found[wire_name(name)] = RunTool(
                name, "child", spec.read_only, spec.definition(), target=spec
            )
        else:
            others.append(name)
    if others:
        async with db.read(store_id) as session:
            found |= await _resolve_stored(session, store_id, others, secrets=secrets, mcp=mcp)
    return found


async def _resolve_stored(
    session: AsyncSession,
    store_id: str,
    names: list[str],
    *,
    secrets: SecretBox,
    mcp: McpPool,
) -> dict[str, RunTool]:
    """The store's HTTP tools and MCP tools among ``names``."""
    found: dict[str, RunTool] = {}
    http_rows = {row.name: row for row in await http_tools.list_all(session, store_id)}
    wanted_servers: dict[str, list[str]] = {}
    for name in names:
        if (row := http_rows.get(name)) is not None:
            defn = http_definition(row, secrets)
            definition = ToolDefinition(
                name=wire_name(name),
                description=defn.description,
                parameters_json_schema=defn.parameters,
            )
            found[wire_name(name)] = RunTool(name, "http", defn.read_only, definition, target=defn)
        elif "." in name:
            server, _, tool = name.partition(".")
            wanted_servers.setdefault(server, []).append(tool)
    if not wanted_servers:
        return found
    servers = {row.name: row for row in await mcp_servers.list_all(session, store_id)}
    for server, tool_names in wanted_servers.items():
        server_row = servers.get(server)
        if server_row is None or not server_row.enabled:
            continue
        endpoint = mcp_endpoint(server_row, secrets)
        try:
            listed = {t.name: t for t in await mcp.list_tools(endpoint)}
        except LoopwrightError as exc:
            logger.warning("MCP server %s unavailable: %s", server, exc.message)
            continue
        for tool_name in tool_names:
            if (listed_tool := listed.get(tool_name)) is None:
                continue
            qualified = f"{server}.{tool_name}"
            definition = ToolDefinition(
                name=wire_name(qualified),
                description=listed_tool.description,
                parameters_json_schema=listed_tool.parameters,
            )
            found[wire_name(qualified)] = RunTool(
                qualified,
                "mcp",
                listed_tool.read_only,
                definition,
                target=McpTarget(endpoint, tool_name),
            )
    return found


async def find(db: Database, store_id: str, name: str, *, secrets: SecretBox) -> Target:
    """The tool ``name`` stands for, to call it outside a run: a built-in tool, the store's HTTP
    tool of that name, or ``server.tool`` on its MCP server ``server`` (whose tools are not
    listed first: the server answers for a tool it does not have)."""
    if (spec := BUILTIN_TOOLS.get(name)) is not None:
        return spec
    if name in AGENT_TOOLS:
        raise Conflict(
            f"{name!r} starts a child run and can only be called inside a run",
            details={"name": name, "kind": "agent"},
        )
    server, dot, tool = name.partition(".")
    async with db.read(store_id) as session:
        if dot:
            rows = await mcp_servers.list_all(session, store_id)
            server_row = next((row for row in rows if row.name == server), None)
            if server_row is not None:
                return McpTarget(mcp_endpoint(server_row, secrets), tool)
        elif (http_row := await http_tools.find(session, store_id, name)) is not None:
            return http_definition(http_row, secrets)
    raise NotFound.of("tool", name)


def canonical(assigned: Iterable[str], wire: str) -> str:
    """The assigned name a model's tool-call name stands for (itself if none matches)."""
    for name in assigned:
        if wire_name(name) == wire:
            return name
    return wire


async def known_tool_names(session: AsyncSession, store_id: str) -> set[str]:
    """Names an agent may be assigned without contacting MCP servers (``server.tool`` is
    accepted when the store has an MCP server of that name)."""
    names = set(BUILTIN_TOOLS) | set(AGENT_TOOLS)
    names |= {row.name for row in await http_tools.list_all(session, store_id)}
    names |= {f"{row.name}.*" for row in await mcp_servers.list_all(session, store_id)}
    return names
