"""Tools from MCP servers: what a server offers, calling its tools, checking its health.

``McpPool`` keeps one live session per registered server and reconnects it when it breaks::

    pool = McpPool(EgressGuard())                # connects only where the guard allows
    ep = McpEndpoint("mcp_1", "files", "streamable_http", "https://mcp.example/mcp", {})
    tools = await pool.list_tools(ep)            # [McpTool(server="files", name="read", ...)]
    result = await pool.call_tool(ep, "read", {"path": "a.txt"},
                                  idempotency_key="run_1:call_3", timeout_s=30)
    await pool.close()

Every connection of the pool goes through the egress guard it is given (see
``loopwright.egress.transport``); a refused server fails like an unreachable one, with
``McpError``. Callers may check the URL first for a clearer error.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from mcp import ClientSession
from mcp.shared.exceptions import MCPError
from mcp.types import (
    REQUEST_TIMEOUT,
    CallToolResult,
    PaginatedRequestParams,
    RequestParamsMeta,
    TextContent,
    Tool,
)

from loopwright.egress import EgressGuard
from loopwright.errors import LoopwrightError
from loopwright.tools.mcp_connection import Broken, Connection, Operation, Transport

T = TypeVar("T")
McpTransport = Transport
IDEMPOTENCY_META = "loopwright/idempotency-key"
MAX_TOOL_PAGES = 20


@dataclass(frozen=True)
class McpEndpoint:
    server_id: str
    name: str
    transport: McpTransport
    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the connection would have to change."""
        blob = json.dumps([self.transport, self.url, sorted(self.headers.items())])
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class McpTool:
    server: str
    name: str
    description: str
    parameters: dict[str, Any]
    read_only: bool

    @property
    def qualified_name(self) -> str:
        return f"{self.server}.{self.name}"

    @classmethod
    def of(cls, server: str, tool: Tool) -> McpTool:
        hint = tool.annotations.read_only_hint if tool.annotations is not None else None
        return cls(
            server=server,
            name=tool.name,
            description=tool.description or "",
            parameters=tool.input_schema,
            read_only=bool(hint),
        )


@dataclass(frozen=True)
class McpToolCallResult:
    ok: bool
    content: Any
    """The structured content when the tool gave one, else its text blocks joined."""

    @classmethod
    def of(cls, result: CallToolResult) -> McpToolCallResult:
        if result.structured_content is not None and not result.is_error:
            return cls(ok=True, content=result.structured_content)
        parts = [b.text if isinstance(b, TextContent) else f"[{b.type}]" for b in result.content]
        return cls(ok=not result.is_error, content="\n".join(parts))


class McpError(LoopwrightError):
    """An MCP server is unreachable, broke the connection, or did not answer in time."""

    code = "mcp_error"
    status = 502


class McpPool:
    def __init__(
        self, egress: EgressGuard, *, connect_timeout_s: float = 10.0, tools_ttl_s: float = 30.0
    ) -> None:
        self._egress = egress
        self._connect_timeout_s = connect_timeout_s
        self._tools_ttl_s = tools_ttl_s
        self._connections: dict[str, tuple[str, Connection]] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tools: dict[str, tuple[Connection, str, float, list[McpTool]]] = {}

    async def list_tools(self, ep: McpEndpoint, *, fresh: bool = False) -> list[McpTool]:
        cached = self._tools.get(ep.server_id)
        if (
            not fresh
            and cached is not None
            and cached[:2] == (self._current(ep), ep.name)
            and time.monotonic() < cached[2]
        ):
            return cached[3]

        async def op(session: ClientSession) -> list[McpTool]:
            tools: list[McpTool] = []
            cursor: str | None = None
            for _ in range(MAX_TOOL_PAGES):
                params = PaginatedRequestParams(cursor=cursor) if cursor else None
                page = await session.list_tools(params=params)
                tools += [McpTool.of(ep.name, t) for t in page.tools]
                if not (cursor := page.next_cursor):
                    break
            return tools

        try:
            tools, connection = await self._run(ep, op)
        except MCPError as exc:
            raise McpError(f"MCP server {ep.name!r} did not list its tools: {exc.message}") from exc
        expires = time.monotonic() + self._tools_ttl_s
        self._tools[ep.server_id] = (connection, ep.name, expires, tools)
        return tools

    async def call_tool(
        self,
        ep: McpEndpoint,
        tool_name: str,
        arguments: dict[str, Any],
        *,
        idempotency_key: str,
        timeout_s: float,
    ) -> McpToolCallResult:
        async def op(session: ClientSession) -> CallToolResult:
            return await session.call_tool(
                tool_name,
                arguments,
                read_timeout_seconds=timeout_s,
                # RequestParamsMeta is an open TypedDict (PEP 728), which mypy cannot express yet.
                meta=cast(RequestParamsMeta, {IDEMPOTENCY_META: idempotency_key}),
            )

        try:
            result, _ = await self._run(ep, op, idempotency_key=idempotency_key)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise McpError(
                    f"MCP tool {ep.name}.{tool_name} gave no answer within {timeout_s:g} s",
                    details={"server": ep.name, "tool": tool_name, "timeout_s": timeout_s},
                ) from exc
            return McpToolCallResult(ok=False, content=f"MCP error {exc.code}: {exc.message}")
        except RuntimeError as exc:  # the SDK's checks of the result against the tool's schema
            return McpToolCallResult(ok=False, content=str(exc))
        return McpToolCallResult.of(result)

    async def health(self, ep: McpEndpoint) -> dict[str, Any]:
        """Connect if needed and list the tools; never raises ``McpError``."""
        started = time.perf_counter()
        try:
            tools = await self.list_tools(ep, fresh=True)
        except McpError as exc:
            return {"ok": False, "tools": [], "latency_ms": _ms(started), "error": exc.message}
        return {"ok": True, "tools": [t.name for t in tools], "latency_ms": _ms(started)}

    async def forget(self, server_id: str) -> None:
        """Close the server's session (it was deleted or disabled)."""
        self._tools.pop(server_id, None)
        async with self._locks[server_id]:
            found = self._connections.pop(server_id, None)
        if found is not None:
            await found[1].close()

    async def close(self) -> None:
        connections = [c for _, c in self._connections.values()]
        self._connections.clear()
        self._tools.clear()
        await asyncio.gather(*(c.close() for c in connections))

    async def _run(
        self, ep: McpEndpoint, op: Operation[T], *, idempotency_key: str | None = None
    ) -> tuple[T, Connection]:
        """Run ``op`` on the endpoint's session; on a broken session reconnect once and retry."""
        for attempt in (1, 2):
            connection = await self._connection(ep)
            try:
                return await connection.run(op, idempotency_key=idempotency_key), connection
            except Broken as exc:
                await self._discard(ep, connection)
                if attempt == 2:
                    raise McpError(
                        f"lost the connection to MCP server {ep.name!r}: {exc}",
                        details={"server": ep.name},
                    ) from exc
        raise AssertionError("unreachable")

    def _current(self, ep: McpEndpoint) -> Connection | None:
        found = self._connections.get(ep.server_id)
        if found is None or found[0] != ep.fingerprint or found[1].closed:
            return None
        return found[1]

    async def _connection(self, ep: McpEndpoint) -> Connection:
        async with self._locks[ep.server_id]:
            if (current := self._current(ep)) is not None:
                return current
            if (stale := self._connections.pop(ep.server_id, None)) is not None:
                await stale[1].close()
            connection = Connection(
                ep.transport,
                ep.url,
                ep.headers,
                egress=self._egress,
                connect_timeout_s=self._connect_timeout_s,
            )
            try:
                await connection.open()
            except Broken as exc:
                raise McpError(
                    f"cannot connect to MCP server {ep.name!r} at {ep.url}: {exc}",
                    details={"server": ep.name, "url": ep.url},
                ) from exc
            self._connections[ep.server_id] = (ep.fingerprint, connection)
            return connection

    async def _discard(self, ep: McpEndpoint, connection: Connection) -> None:
        found = self._connections.get(ep.server_id)
        if found is not None and found[1] is connection:
            del self._connections[ep.server_id]
        await connection.close()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
