"""One live MCP client session, owned by a background task.

The SDK's transports and ``ClientSession`` are anyio scopes that must be entered and exited in
the same task, so each ``Connection`` has an owner task that opens them, serves the requests put
on its queue (each in a child task, so calls run concurrently) and closes them on ``close()``.
A request fails with ``Broken`` when the connection cannot serve it (never opened, lost, closed,
or the server forgot the session); whether to reconnect is the caller's decision.

The ``Idempotency-Key`` of a request travels as an HTTP header: the transports send each message
in the sender's contextvars context, so a contextvar read by an httpx2 request hook stamps it on
exactly that request's POST. Every HTTP client a session uses connects through the egress guard
(``GuardedTransport``), so the session only ever reaches addresses the guard checked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, Literal, TypeVar

import anyio
import httpx2
from mcp import ClientSession
from mcp.client._transport import TransportStreams
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, INVALID_REQUEST, Implementation

from loopwright import __version__
from loopwright.egress import EgressGuard, GuardedTransport

T = TypeVar("T")
Operation = Callable[[ClientSession], Awaitable[T]]
Transport = Literal["streamable_http", "sse"]

SSE_READ_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 5.0
"""The default limit per request (tools/list and the like); tool calls bring their own."""
CLIENT_INFO = Implementation(name="loopwright", version=__version__)
IDEMPOTENCY_KEY: ContextVar[str | None] = ContextVar("mcp_idempotency_key", default=None)


class Broken(Exception):
    """The connection cannot serve requests (any more)."""


def is_broken(exc: MCPError) -> bool:
    """Errors the client synthesizes when the connection or the server's session is gone."""
    return exc.code == CONNECTION_CLOSED or (
        exc.code == INVALID_REQUEST and "session" in exc.message.lower()
    )


def describe(exc: BaseException) -> str:
    """The innermost causes of ``exc``, unwrapping the transports' exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(dict.fromkeys(describe(e) for e in exc.exceptions))
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _stamp_idempotency_key(request: httpx2.Request) -> None:
    key = IDEMPOTENCY_KEY.get()
    if key is not None:
        request.headers["Idempotency-Key"] = key


def http_client(
    egress: EgressGuard,
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
) -> httpx2.AsyncClient:
    """The transports' client factory (with ``egress`` bound): connections through the guard,
    no proxies from the environment, the key hook."""
    return httpx2.AsyncClient(
        headers=headers,
        timeout=timeout or httpx2.Timeout(10.0),
        auth=auth,
        transport=GuardedTransport(egress),
        trust_env=False,
        event_hooks={"request": [_stamp_idempotency_key]},
    )


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


@dataclass(eq=False)
class _Request(Generic[T]):
    op: Operation[T]
    future: asyncio.Future[T]
    idempotency_key: str | None
    scope: anyio.CancelScope | None = field(default=None)

    def cancel_if_abandoned(self, future: asyncio.Future[T]) -> None:
        if future.cancelled() and self.scope is not None:
            self.scope.cancel()


class Connection:
    def __init__(
        self,
        transport: Transport,
        url: str,
        headers: dict[str, str],
        *,
        egress: EgressGuard,
        connect_timeout_s: float,
    ) -> None:
        self.transport, self.url, self._headers = transport, url, headers
        self._egress = egress
        self._connect_timeout_s = connect_timeout_s
        self._queue: asyncio.Queue[_Request[Any] | None] = asyncio.Queue()
        self._pending: set[_Request[Any]] = set()
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self.closed = False

    async def open(self) -> None:
        """Connect and initialize; raise ``Broken`` if that fails or takes too long."""
        self._task = asyncio.create_task(self._own(), name=f"mcp {self.url}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self._connect_timeout_s)
        except TimeoutError:
            await self.close()
            raise Broken(f"no answer within {self._connect_timeout_s:g} s") from None
        except BaseException:
            await self.close()
            raise

    async def run(self, op: Operation[T], *, idempotency_key: str | None = None) -> T:
        if self.closed:
            raise Broken(self._reason())
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        request = _Request(op, future, idempotency_key)
        request.future.add_done_callback(request.cancel_if_abandoned)
        self._pending.add(request)
        self._queue.put_nowait(request)
        return await future

    async def close(self) -> None:
        self.closed = True
        if self._task is None:
            return
        if self._ready.done() and not self._ready.exception():
            self._queue.put_nowait(None)  # the owner leaves its scopes in order
        else:
            self._task.cancel()
        await asyncio.wait({self._task}, timeout=CLOSE_TIMEOUT_S)
        if not self._task.done():  # e.g. the session's DELETE hangs on a wedged server
            self._task.cancel()
            await asyncio.wait({self._task})
        if self._ready.done():
            self._ready.exception()  # retrieved: a failed open is reported by open()

    async def _own(self) -> None:
        try:
            async with (
                self._streams() as (read, write),
                ClientSession(read, write, REQUEST_TIMEOUT_S, client_info=CLIENT_INFO) as session,
            ):
                await session.initialize()
                self._ready.set_result(None)
                async with anyio.create_task_group() as group:
                    while (request := await self._queue.get()) is not None:
                        group.start_soon(self._serve, session, request)
                    group.cancel_scope.cancel()
        except Exception as exc:  # the transports raise (nested) exception groups
            self._error = exc
        finally:
            self.closed = True
            broken = Broken(self._reason())
            if not self._ready.done():
                self._ready.set_exception(broken)
            while not self._queue.empty():
                if (leftover := self._queue.get_nowait()) is not None:
                    self._pending.add(leftover)
            for request in self._pending:
                _fail(request.future, broken)
            self._pending.clear()

    async def _serve(self, session: ClientSession, request: _Request[Any]) -> None:
        if request.future.done():
            self._pending.discard(request)
            return
        IDEMPOTENCY_KEY.set(request.idempotency_key)  # this child task's own context
        with anyio.CancelScope() as request.scope:
            try:
                result = await request.op(session)
            except MCPError as exc:
                _fail(request.future, Broken(describe(exc)) if is_broken(exc) else exc)
            except Exception as exc:
                _fail(request.future, exc)
            else:
                if not request.future.done():
                    request.future.set_result(result)
        self._pending.discard(request)  # not reached when the whole group is cancelled

    def _reason(self) -> str:
        if self._error is not None:
            return describe(self._error)
        return "connection closed"

    @contextlib.asynccontextmanager
    async def _streams(self) -> AsyncIterator[TransportStreams]:
        connect = self._connect_timeout_s
        if self.transport == "sse":
            async with sse_client(
                self.url,
                headers=self._headers,
                timeout=connect,
                sse_read_timeout=SSE_READ_TIMEOUT_S,
                httpx_client_factory=partial(http_client, self._egress),
            ) as streams:
                yield streams
        else:
            # No transport read timeout: calls are bounded per request, the GET stream idles.
            timeout = httpx2.Timeout(connect, read=None)
            async with (
                http_client(self._egress, self._headers, timeout) as http,
                streamable_http_client(self.url, http_client=http) as streams,
            ):
                yield streams
