"""HTTP/1.1 for httpx2 on asyncio's own sockets, parsed in C (httptools, uvicorn's parser).

httpx2's default transport reads through httpcore2 over anyio and parses with h11 in Python:
about 300 µs of CPU per read of a streamed model response, and a third of the model client's
CPU per turn (``bench.model_client``). ``Http11Transport`` keeps httpx2's client (its
requests, responses, decoding, errors, redirects) and replaces only the connections: an
``asyncio.Protocol`` per connection whose bytes go straight to llhttp, a pool of idle
connections per origin, and a read that hands over everything received since the last one.

What it does not do, so its users keep httpx2's transport for it: proxies, HTTP/2, Unix
sockets, protocol upgrades. With ``resolve`` (``EgressGuard.addresses``: ``GuardedTransport``),
a host is resolved by that function and the socket connects only to the addresses it
returned, in order; without it, asyncio resolves the host itself.

Errors are httpx2's: ``ConnectError``/``ConnectTimeout`` opening a connection, ``PoolTimeout``
waiting for one, ``WriteError``/``WriteTimeout`` sending, ``ReadError``/``ReadTimeout`` and
``RemoteProtocolError`` (a malformed response, a server that closed before answering in full)
reading.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httptools
import httpx2

Resolve = Callable[[str], Awaitable[list[str]]]
Origin = tuple[bytes, bytes, int]
"""(scheme, host, port) of a connection."""

DEFAULT_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20)
_PAUSE_AT = 256 * 1024
"""Bytes received and not yet read at which the socket stops being read."""
_WRITE_BATCH = 64 * 1024


class Http11Transport(httpx2.AsyncBaseTransport):
    """httpx2's transport interface over ``_Connection``s (HTTP/1.1, no proxy)."""

    def __init__(
        self,
        resolve: Resolve | None = None,
        *,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self._resolve = resolve
        self._tls = verify
        self._pool = _Pool(limits)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = httpx2.create_ssl_context()
        return self._tls

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx2.UnsupportedProtocol(f"no transport for {scheme.decode()!r} URLs")
        port = url.port or (443 if scheme == b"https" else 80)
        origin: Origin = (scheme, url.raw_host, port)
        timeouts = request.extensions.get("timeout", {})
        head = _head(request)
        connection = await self._pool.acquire(
            origin, lambda: self._open(origin, timeouts.get("connect")), timeouts.get("pool")
        )
        try:
            await connection.send(head, request, timeouts.get("write"))
            reason = await connection.read_head(timeouts.get("read"))
        except BaseException:
            self._pool.release(connection)
            raise
        return httpx2.Response(
            status_code=connection.status,
            headers=connection.headers,
            stream=_Body(connection, self._pool, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def _open(self, origin: Origin, timeout_s: float | None) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        tls = self._tls_context() if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        failures: list[OSError] = []
        try:
            async with asyncio.timeout(timeout_s):
                addresses = await self._resolve(host) if self._resolve else [host]
                for address in addresses:
                    try:
                        _, connection = await loop.create_connection(
                            lambda: _Connection(origin),
                            address,
                            port,
                            ssl=tls,
                            server_hostname=host if tls else None,
                        )
                        return connection
                    except OSError as exc:
                        failures.append(exc)
        except TimeoutError as exc:
            raise httpx2.ConnectTimeout(f"no connection to {host} within {timeout_s} s") from exc
        raise httpx2.ConnectError(str(failures[-1]) if failures else f"{host}: no address")

    async def aclose(self) -> None:
        self._pool.close()


def _head(request: httpx2.Request) -> bytes:
    """The request line and headers. A CR, LF or NUL inside a name, a value or the target
    (which would split the message or end it early) is refused: only the line ends may hold
    them."""
    headers = request.headers.raw
    lines = [request.method.encode(), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in headers:
        lines += (name, b": ", value, b"\r\n")
    lines.append(b"\r\n")
    head = b"".join(lines)
    ends = len(headers) + 2
    if head.count(b"\r") != ends or head.count(b"\n") != ends or b"\0" in head:
        raise httpx2.LocalProtocolError("illegal character in the request line or a header")
    return head


class _Pool:
    """Idle connections per origin (most recent first out) under httpx2's limits."""

    def __init__(self, limits: httpx2.Limits) -> None:
        self._max = limits.max_connections or 1 << 30
        idle = limits.max_keepalive_connections
        self._max_idle: int = self._max if idle is None else idle
        self._expiry = limits.keepalive_expiry
        self._idle: dict[Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._open = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(
        self,
        origin: Origin,
        connect: Callable[[], Awaitable[_Connection]],
        timeout_s: float | None,
    ) -> _Connection:
        while True:
            idle = self._idle.get(origin)
            while idle:
                connection = idle.pop()
                self._idle_count -= 1
                if connection.reusable(self._expiry):
                    connection.take()
                    return connection
                self._drop(connection)
            if self._open < self._max:
                break
            if not self._close_oldest_idle():
                await self._wait(timeout_s)
        self._open += 1
        try:
            connection = await connect()
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise
        connection.take()
        return connection

    def release(self, connection: _Connection) -> None:
        """Back to the pool if it finished a response it may keep alive; closed if not."""
        if not connection.in_use:
            return
        connection.in_use = False
        if connection.keep_alive and self._idle_count < self._max_idle:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.origin, []).append(connection)
            self._idle_count += 1
            self._wake_one()
        else:
            self._drop(connection)

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._open -= 1
        self._wake_one()

    def _close_oldest_idle(self) -> bool:
        oldest: _Connection | None = None
        for idle in self._idle.values():
            if idle and (oldest is None or idle[0].idle_since < oldest.idle_since):
                oldest = idle[0]
        if oldest is None:
            return False
        self._idle[oldest.origin].remove(oldest)
        self._idle_count -= 1
        self._drop(oldest)
        return True

    async def _wait(self, timeout_s: float | None) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
        except TimeoutError as exc:
            raise httpx2.PoolTimeout(f"no connection free within {timeout_s} s") from exc
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class _Connection(asyncio.Protocol):
    """One connection, one exchange at a time: the bytes received go to llhttp as they come,
    its callbacks fill in the response, and a reader waits for what it needs next."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.in_use = False
        self.idle_since = 0.0
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._closed = False
        self._broken = False
        self._reason = b""
        self._head_done = False
        self._informational = False
        self._until_eof = False
        self._complete = False
        self._keep_alive = False
        self._head_only = False
        self._body: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused = False
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._can_write: asyncio.Future[None] | None = None

    # -- what the pool asks

    def take(self) -> None:
        self.in_use = True
        self.status = 0
        self.headers = []
        self._reason = b""
        self._head_done = self._complete = self._keep_alive = self._until_eof = False
        self._error = None
        self._body.clear()  # a body read to its end by llhttp, never by its reader
        self._buffered = 0
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    def reusable(self, expiry: float | None) -> bool:
        fresh = expiry is None or time.monotonic() - self.idle_since < expiry
        return fresh and not self._closed and not self._broken

    @property
    def keep_alive(self) -> bool:
        return self._complete and self._keep_alive and not self._closed and not self._broken

    def close(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    # -- the exchange

    async def send(self, head: bytes, request: httpx2.Request, timeout_s: float | None) -> None:
        self._head_only = request.method == "HEAD"
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        batch = [head]
        size = len(head)
        assert isinstance(request.stream, httpx2.AsyncByteStream)
        async for part in request.stream:
            if chunked:
                if not part:
                    continue
                batch += (b"%x\r\n" % len(part), part, b"\r\n")
            else:
                batch.append(part)
            size += len(part)
            if size >= _WRITE_BATCH:
                await self._write(b"".join(batch), timeout_s)
                batch, size = [], 0
        if chunked:
            batch.append(b"0\r\n\r\n")
        await self._write(b"".join(batch), timeout_s)

    async def _write(self, data: bytes, timeout_s: float | None) -> None:
        if self._closed or self._transport is None:
            raise httpx2.WriteError("the connection closed before the request was sent")
        self._transport.write(data)
        while self._can_write is not None:
            if self._closed:
                raise httpx2.WriteError("the connection closed while the request was sent")
            try:
                async with asyncio.timeout(timeout_s):
                    await asyncio.shield(self._can_write)
            except TimeoutError as exc:
                raise httpx2.WriteTimeout(f"the request was not sent within {timeout_s} s") from exc

    async def read_head(self, timeout_s: float | None) -> bytes:
        """Wait for the status line and headers; the reason phrase."""
        while not self._head_done:
            self._raise_failure()
            await self._wait(timeout_s)
        return self._reason

    async def read(self, timeout_s: float | None) -> bytes:
        """The body received since the last read (waiting for some); b"" at its end."""
        while not self._body:
            if self._complete:
                return b""
            self._raise_failure()
            await self._wait(timeout_s)
        data = self._body.popleft() if len(self._body) == 1 else b"".join(self._body)
        self._body.clear()
        self._buffered = 0
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return data

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise httpx2.RemoteProtocolError("the server closed the connection")

    async def _wait(self, timeout_s: float | None) -> None:
        waiter = self._loop.create_future()
        self._waiter = waiter
        timer = self._loop.call_later(timeout_s, _expire, waiter) if timeout_s is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        self._broken = True
        if self._transport is not None:
            self._transport.close()
        self._wake()

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.in_use or self._complete:
            self._fail(httpx2.RemoteProtocolError("the server sent bytes nobody asked for"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx2.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(httpx2.RemoteProtocolError(f"malformed response: {exc}"))
        if self._buffered >= _PAUSE_AT and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        ended = exc is None and not self._broken
        if self._head_done and self._until_eof and not self._complete and ended:
            self._complete = True  # a body delimited by the end of the connection (not a reset)
        elif self.in_use and not self._complete and self._error is None:
            message = "the server closed the connection before the response ended"
            self._error = httpx2.ReadError(message) if exc else httpx2.RemoteProtocolError(message)
        self._wake()
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)
        self._can_write = None

    def pause_writing(self) -> None:
        self._can_write = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._can_write is not None and not self._can_write.done():
            self._can_write.set_result(None)
        self._can_write = None

    # -- llhttp's callbacks (after the response is complete, any is a response nobody asked for)

    def on_status(self, status: bytes) -> None:
        if self._complete:
            self._broken = True
            return
        self._reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._complete:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._complete:
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # 100 Continue and the like: the response follows
            self._informational = True
            self.headers, self._reason = [], b""
            return
        self.status = status
        self._head_done = True
        framed = any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self.headers
        )
        if self._head_only:
            self._complete = True  # no body follows; the connection is not reused
        else:
            self._until_eof = not framed and status not in (204, 304)
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._complete:
            return
        self._body.append(body)
        self._buffered += len(body)
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self._complete:
            return
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()
        self._wake()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx2.ReadTimeout("no response from the server in time"))


class _Body(httpx2.AsyncByteStream):
    """A response's body as httpx2 reads it; closing it gives the connection back."""

    def __init__(self, connection: _Connection, pool: _Pool, timeout_s: float | None) -> None:
        self._connection = connection
        self._pool = pool
        self._timeout = timeout_s

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while data := await self._connection.read(self._timeout):
            yield data

    async def aclose(self) -> None:
        self._pool.release(self._connection)


__all__ = ["Http11Transport", "Resolve"]
