"""``Http11Transport``: httpx2's client over asyncio sockets and llhttp, against raw servers.

Each server here is a loopback socket that answers with exact bytes, so the framing cases a
real server may send (chunked, a length, a body ended by closing, 100 Continue, a connection
closed while idle or mid-body, bytes nobody asked for) are the transport's to read; httpx2's
own transport reads the same responses in ``test_reads_as_httpx2_does``.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx2
import pytest

from loopwright.egress import EgressDenied
from loopwright.egress.http11 import DEFAULT_LIMITS, Http11Transport, Resolve, _Body, _Connection

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Server:
    port: int
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request: its head, and its body by Content-Length or chunked framing."""
    head = await reader.readuntil(b"\r\n\r\n")
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        body = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        return head + body
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return head + await reader.readexactly(int(line.split(b":")[1]))
    return head


@asynccontextmanager
async def serving(answer: Answer) -> AsyncIterator[Server]:
    server = Server(0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            await answer(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


def replying(*responses: bytes) -> Answer:
    """Answer each request, on whichever connection, with the next response."""
    left = iter(responses)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # until the client closes
            await read_request(reader)
            writer.write(next(left))
            await writer.drain()

    return answer


def ok(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n" % len(body)
    return head + b"".join(extra) + b"\r\n" + body


def client(
    resolve: Resolve | None = None, limits: httpx2.Limits = DEFAULT_LIMITS
) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=Http11Transport(resolve, limits=limits), timeout=5)


async def test_a_connection_is_kept_alive_between_requests() -> None:
    async with serving(replying(ok(b"one"), ok(b"two"))) as server, client() as http:
        first = await http.get(server.url)
        second = await http.post(server.url, content=b"x")
    assert (first.text, second.text) == ("one", "two")
    assert first.reason_phrase == "OK" and first.http_version == "HTTP/1.1"
    assert server.connections == 1


async def test_a_chunked_body_streams_as_it_arrives() -> None:
    """Each chunk is readable before the next is sent: the server waits for the client to
    say it has read the previous one."""
    read: list[str] = []
    next_chunk = asyncio.Event()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for line in (b"data: a\n\n", b"data: b\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(line), line))
            await writer.drain()
            await next_chunk.wait()
            next_chunk.clear()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with (
        serving(answer) as server,
        client() as http,
        http.stream("GET", server.url) as response,
    ):
        async for line in response.aiter_lines():
            if line:
                read.append(line)
                next_chunk.set()
    assert read == ["data: a", "data: b"]


async def test_a_body_ended_by_closing_the_connection() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it")
        await writer.drain()

    async with serving(answer) as server, client() as http:
        assert (await http.get(server.url)).text == "all of it"
        assert (await http.get(server.url)).text == "all of it"
    assert server.connections == 2


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"once"))
        await writer.drain()  # then close: keep-alive promised, not kept

    async with serving(answer) as server, client() as http:
        assert (await http.get(server.url)).text == "once"
        await until(lambda: not idle_connections(http))
        assert (await http.get(server.url)).text == "once"
    assert server.connections == 2


def idle_connections(http: httpx2.AsyncClient) -> list[_Connection]:
    """The pool's connections that a request would take now."""
    transport = http._transport
    assert isinstance(transport, Http11Transport)
    idle = transport._pool._idle.values()
    return [c for connections in idle for c in connections if c.reusable(None)]


def connection_of(response: httpx2.Response) -> _Connection:
    stream = response.stream._stream  # type: ignore[attr-defined]  # httpx2's wrapper
    assert isinstance(stream, _Body)
    return stream._connection


async def until(check: Callable[[], bool]) -> None:
    """Poll what the loop's callbacks change (a socket's end has nothing to await)."""
    deadline = asyncio.get_running_loop().time() + 5
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not within 5 s"
        await asyncio.sleep(0.005)


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", httpx2.RemoteProtocolError),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab",
            httpx2.RemoteProtocolError,
        ),
        (b"NOT HTTP AT ALL\r\n\r\n", httpx2.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", httpx2.RemoteProtocolError),
        (b"", httpx2.RemoteProtocolError),
    ],
    ids=["short-body", "cut-chunk", "not-http", "bad-length", "no-answer"],
)
async def test_a_broken_response_is_a_protocol_error(
    response: bytes, error: type[Exception]
) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response)
        await writer.drain()

    async with serving(answer) as server, client() as http:
        with pytest.raises(error):
            await http.get(server.url)


async def test_bytes_after_the_response_spoil_the_connection() -> None:
    """A second response nobody asked for: the first is read, the connection is not reused."""
    async with serving(replying(ok(b"one") + ok(b"extra"), ok(b"two"))) as server, client() as http:
        assert (await http.get(server.url)).text == "one"
        assert (await http.get(server.url)).text == "two"
    assert server.connections == 2


async def test_an_informational_response_precedes_the_answer() -> None:
    continue_then_ok = b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"done")
    async with serving(replying(continue_then_ok, ok(b"again"))) as server, client() as http:
        first = await http.post(server.url, content=b"x")
        second = await http.get(server.url)
    assert (first.status_code, first.text, second.text) == (200, "done", "again")


async def test_a_head_response_has_no_body() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n"
    async with serving(replying(head)) as server, client() as http:
        response = await http.head(server.url)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == "42"


async def test_a_request_body_streams_chunked_and_a_large_one_both_ways() -> None:
    """A body from an iterator goes chunked; 4 MB each way exercises both flow controls."""
    big = bytes(range(256)) * 16384

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        body = request.split(b"\r\n\r\n", 1)[1]
        writer.write(ok(body[::-1]))
        await writer.drain()
        await reader.read()

    async def parts() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 100_000):
            yield big[start : start + 100_000]

    async with (
        serving(answer) as server,
        client() as http,
        http.stream("POST", server.url, content=parts()) as response,
    ):
        assert response.request.headers["transfer-encoding"] == "chunked"
        connection = connection_of(response)
        await until(lambda: connection._paused)  # the socket is no longer read
        got = await response.aread()
    assert got == big[::-1]


async def test_gzip_is_decoded_by_httpx2_above_the_transport() -> None:
    zipped = gzip.compress(b"plain words")
    response = ok(zipped, b"content-encoding: gzip\r\n")
    async with serving(replying(response)) as server, client() as http:
        assert (await http.get(server.url)).text == "plain words"


async def test_a_body_closed_before_its_end_closes_its_connection() -> None:
    partial = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b"
    async with serving(replying(partial, ok(b"y"))) as server, client() as http:
        async with http.stream("GET", server.url) as response:
            assert response.status_code == 200
        assert (await http.get(server.url)).status_code == 200
    assert server.connections == 2


async def test_a_whole_body_left_unread_keeps_its_connection() -> None:
    async with serving(replying(ok(b"x" * 1000), ok(b"y"))) as server, client() as http:
        async with http.stream("GET", server.url) as response:
            connection = connection_of(response)
            await until(lambda: connection._complete)
        assert (await http.get(server.url)).text == "y"
    assert server.connections == 1


async def test_timeouts_and_refusals_are_httpx2_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()

    async with serving(silent) as server, client() as http:
        with pytest.raises(httpx2.ReadTimeout):
            await http.get(server.url, timeout=0.2)
        free_port = server.port
    with pytest.raises(httpx2.ConnectError):
        async with client() as http:
            await http.get(f"http://127.0.0.1:{free_port}")


async def test_the_pool_waits_for_a_free_connection_then_times_out() -> None:
    async with serving(replying(ok(b"a"), ok(b"b"))) as server:
        limits = httpx2.Limits(max_connections=1)
        async with client(limits=limits) as http:
            async with http.stream("GET", server.url) as held:
                waiting = asyncio.create_task(http.get(server.url))
                with pytest.raises(httpx2.PoolTimeout):
                    await http.get(server.url, timeout=httpx2.Timeout(5, pool=0.1))
                assert not waiting.done()
                await held.aread()
            assert (await waiting).text == "b"
    assert server.connections == 1


async def test_a_header_that_would_split_the_request_is_refused() -> None:
    async with serving(replying(ok(b""))) as server, client() as http:
        for bad in ("a\r\nx-injected: 1", "a\nb", "a\0b"):
            with pytest.raises(httpx2.LocalProtocolError):
                await http.get(server.url, headers={"x-value": bad})
    assert server.connections == 0


async def test_it_connects_only_to_what_resolve_returned() -> None:
    asked: list[str] = []

    async def resolve(host: str) -> list[str]:
        asked.append(host)
        if host == "denied.test":
            raise EgressDenied("refused", details={"host": host})
        return ["127.0.0.1"]

    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(ok(b"hi"))
        await writer.drain()
        await reader.read()

    async with serving(answer) as server, client(resolve=resolve) as http:
        assert (await http.get(f"http://named.test:{server.port}/p")).text == "hi"
        with pytest.raises(EgressDenied):
            await http.get(f"http://denied.test:{server.port}/p")
    assert asked == ["named.test", "denied.test"]
    assert b"host: named.test:%d" % server.port in seen[0].lower()


@pytest.mark.parametrize(
    "response",
    [
        ok(b"plain"),
        b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\nx-a: 1\r\nx-a: 2\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    ],
    ids=["length", "chunked", "no-content", "not-found"],
)
async def test_reads_as_httpx2_does(response: bytes) -> None:
    async with serving(replying(response, response)) as server:
        got = []
        for transport in (Http11Transport(), httpx2.AsyncHTTPTransport()):
            async with httpx2.AsyncClient(transport=transport) as http:
                r = await http.get(server.url)
                got.append((r.status_code, r.reason_phrase, r.headers.multi_items(), r.content))
    assert got[0] == got[1]
