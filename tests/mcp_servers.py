"""Real MCP servers (the SDK's ``MCPServer``) for tests, served by uvicorn on 127.0.0.1.

``demo_server()`` builds a server with a few tools and a ``Seen`` log of what reached it;
``serve_mcp`` runs it over streamable HTTP or SSE in the current event loop and yields its URL.
Stopping is abrupt (every open connection is dropped, like a crashed process), and a server can
be started again on the same port to play a restart::

    demo = demo_server()
    async with serve_mcp(demo, "sse") as url: ...
    async with serve_mcp(demo, "sse", port=port_of(url)) as url: ...   # the same URL again

``down_url()`` is a URL on which nothing listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from starlette.applications import Starlette
from starlette.requests import Request

from loopwright.tools.mcp import IDEMPOTENCY_META

Transport = Literal["streamable_http", "sse"]
PATHS: dict[Transport, str] = {"streamable_http": "/mcp", "sse": "/sse"}


@dataclass
class Noted:
    text: str
    idempotency_key: str | None
    """The ``Idempotency-Key`` HTTP header of the request that carried the call."""
    meta_key: str | None
    """The idempotency key in the request's ``_meta``."""
    headers: dict[str, str]
    session_id: str | None
    """The transport's session (``Mcp-Session-Id``, or the SSE ``session_id`` query)."""


@dataclass
class Seen:
    notes: list[Noted] = field(default_factory=list)
    hang_started: asyncio.Event = field(default_factory=asyncio.Event)
    hang_cancelled: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class DemoServer:
    server: MCPServer
    seen: Seen

    def app(self, transport: Transport) -> Starlette:
        if transport == "sse":
            return self.server.sse_app()
        return self.server.streamable_http_app()


def demo_server(name: str = "demo") -> DemoServer:
    """Tools: ``add`` (read-only), ``note`` (records what reached it), ``fail``, ``hang``."""
    server = MCPServer(name, log_level="WARNING")
    seen = Seen()

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def note(text: str, ctx: Context) -> str:
        """Write a note down."""
        headers = dict(ctx.headers or {})
        meta: dict[str, object] = dict(ctx.request_context.meta or {})
        seen.notes.append(
            Noted(
                text=text,
                idempotency_key=headers.get("idempotency-key"),
                meta_key=str(meta[IDEMPOTENCY_META]) if IDEMPOTENCY_META in meta else None,
                headers=headers,
                session_id=headers.get("mcp-session-id") or _sse_session_id(ctx),
            )
        )
        return f"noted: {text}"

    @server.tool()
    def fail(message: str) -> str:
        """Always fails with the given message."""
        raise ToolError(message)

    @server.tool()
    async def hang() -> str:
        """Never answers (until the call is cancelled)."""
        seen.hang_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.hang_cancelled.set()
            raise
        return "unreachable"

    return DemoServer(server=server, seen=seen)


def _sse_session_id(ctx: Context) -> str | None:
    request = ctx.request_context.request
    return request.query_params.get("session_id") if isinstance(request, Request) else None


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


@contextlib.asynccontextmanager
async def serve_mcp(demo: DemoServer, transport: Transport, *, port: int = 0) -> AsyncIterator[str]:
    """Serve ``demo`` on 127.0.0.1 (``port``, or a free one); yield the MCP endpoint's URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATHS[transport]}"
    config = uvicorn.Config(demo.app(transport), log_level="warning", lifespan="on")
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        ready = asyncio.create_task(server.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()
            raise RuntimeError("MCP test server exited during start-up")
        yield url
    finally:
        server.should_exit = True
        for connection in list(server.server_state.connections):
            transport_ = getattr(connection, "transport", None)
            if transport_ is not None:
                transport_.abort()  # drop it like a crashed process would
        await task
        sock.close()


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def down_url(transport: Transport = "streamable_http") -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{PATHS[transport]}"
