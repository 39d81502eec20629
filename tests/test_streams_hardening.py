"""Open streams against revoked keys, out-of-range cursors and garbage WebSocket frames.

A key deleted while an SSE stream or a WebSocket is open ends it within ``key_cache_s``
(whichever process deleted it), and a revoked key's message creates no run. Cursors outside
0..2^63-1 are refused before a stream starts. A frame the WebSocket cannot act on gets an error
frame, and the socket stays usable.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws

from loopwright.server.app import create_app
from loopwright.server.key_cache import KeyCache, KeyRecord
from tests.conftest import Live, Store, make_settings
from tests.procs import OPERATOR_KEY
from tests.sse import frames

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

SSE = {"Accept": "text/event-stream"}
KEY_CACHE_S = 1.0
MARGIN_S = 4.0  # a loaded machine's scheduling, on top of the cache's time
MAX_SEQ = 2**63 - 1


@pytest.fixture(scope="module")
async def quick(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    """An API-only server (runs stay queued) whose cache keeps a key for ``KEY_CACHE_S``."""
    settings = make_settings(
        tmp_path_factory.mktemp("quick-keys"), key_cache_s=KEY_CACHE_S, create_demo=False
    )
    app = create_app(settings, run_worker=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)  # readiness poll of uvicorn's own flag
    base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    operator = httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30
    )
    try:
        yield Live(base_url, settings, app=app, http=operator)
    finally:
        await operator.aclose()
        server.should_exit = True
        await task


async def _member(store: Store) -> tuple[str, str]:
    r = await store.admin.post(f"{store.path}/keys", json={"role": "member"})
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["key"]


async def _revoke(store: Store, key_id: str) -> None:
    r = await store.admin.delete(f"{store.path}/keys/{key_id}")
    assert r.status_code == 204, r.text


def _delete_elsewhere(live: Live, key_id: str) -> None:
    """Delete the key's row as another process would: this server's cache is not told."""
    with sqlite3.connect(live.settings.data_dir / "loopwright.db", timeout=30) as db:
        assert db.execute("DELETE FROM api_keys WHERE id = ?", (key_id,)).rowcount == 1


def _ws_url(live: Live, store: Store, query: str) -> str:
    return f"{live.base_url.replace('http', 'ws')}{store.path}/ws?{query}"


async def _closed(ws: AsyncWebSocketSession) -> tuple[list[dict[str, Any]], int]:
    """Every frame until the server closes the socket, and the close code."""
    seen: list[dict[str, Any]] = []
    while True:
        try:
            seen.append(await ws.receive_json())
        except WebSocketDisconnect as closed:
            return seen, closed.code


async def _sse_until_end(response: httpx.Response) -> list[tuple[str | None, dict[str, Any]]]:
    return [(frame.event, frame.data) async for frame in frames(response)]


@pytest.mark.parametrize("where", ["api", "another process"])
async def test_revoked_key_ends_open_sse_stream(quick: Live, where: str) -> None:
    store = await quick.new_store()
    agent = await store.agent()
    await store.session(agent["id"])
    key_id, key = await _member(store)
    async with (
        quick.client(key) as member,
        member.stream("GET", f"{store.path}/events", headers=SSE) as r,
    ):
        assert r.status_code == 200
        stream = frames(r)
        assert (await anext(stream)).event == "agent.created"  # the stream is open
        if where == "api":
            await _revoke(store, key_id)
        else:
            _delete_elsewhere(quick, key_id)
        async with asyncio.timeout(KEY_CACHE_S + MARGIN_S):
            rest = [(frame.event, frame.data) async for frame in stream]
    assert rest[-1][0] == "stream.closed"
    assert rest[-1][1]["error"]["code"] == "unauthenticated"
    async with quick.client(key) as member:
        assert (await member.get(f"{store.path}/events", headers=SSE)).status_code == 401
    await store.admin.aclose()


@pytest.mark.parametrize("where", ["api", "another process"])
async def test_revoked_key_closes_open_websocket(quick: Live, where: str) -> None:
    store = await quick.new_store()
    agent = await store.agent()
    await store.session(agent["id"])
    key_id, key = await _member(store)
    async with (
        httpx.AsyncClient() as client,
        aconnect_ws(_ws_url(quick, store, f"token={key}"), client) as ws,
    ):
        assert (await ws.receive_json())["type"] == "agent.created"  # the socket is open
        if where == "api":
            await _revoke(store, key_id)
        else:
            _delete_elsewhere(quick, key_id)
        async with asyncio.timeout(KEY_CACHE_S + MARGIN_S):
            seen, code = await _closed(ws)
    assert code == 4401
    assert seen[-1]["type"] == "error" and seen[-1]["error"]["code"] == "unauthenticated"
    await store.admin.aclose()


async def test_message_from_revoked_key_creates_no_run(quick: Live) -> None:
    store = await quick.new_store()
    agent = await store.agent()
    chat = await store.session(agent["id"])
    key_id, key = await _member(store)
    url = _ws_url(quick, store, f"session_id={chat['id']}&token={key}")
    async with httpx.AsyncClient() as client, aconnect_ws(url, client) as ws:
        assert (await ws.receive_json())["type"] == "session.created"
        await _revoke(store, key_id)
        message = {"type": "chat.message_sent", "session_id": chat["id"], "content": "late"}
        await ws.send_json(message)
        async with asyncio.timeout(KEY_CACHE_S + MARGIN_S):
            seen, code = await _closed(ws)
    assert code == 4401
    assert [f["error"]["code"] for f in seen if f["type"] == "error"] == ["unauthenticated"]
    assert not any(f["type"] in ("ack", "chat.message_sent", "run.queued") for f in seen)
    runs = await store.admin.get(f"{store.path}/runs", params={"session_id": chat["id"]})
    assert runs.json()["items"] == []
    await store.admin.aclose()


async def test_stream_of_a_live_key_outlasts_the_cache(quick: Live) -> None:
    """Re-checking the key does not end the streams of a key that still exists."""
    store = await quick.new_store()
    agent = await store.agent()
    _, key = await _member(store)
    url = _ws_url(quick, store, f"token={key}&types=session.created")
    params = {"types": "session.created"}
    async with (
        quick.client(key) as member,
        member.stream("GET", f"{store.path}/events", params=params, headers=SSE) as r,
        httpx.AsyncClient() as client,
        aconnect_ws(url, client) as ws,
    ):
        lines = r.aiter_lines()
        loop = asyncio.get_running_loop()
        until = loop.time() + 3 * KEY_CACHE_S  # the key is looked up again about 3 times
        while loop.time() < until:
            async with asyncio.timeout(MARGIN_S):
                await anext(lines)  # heartbeats; StopAsyncIteration if the stream ended
        created = await store.session(agent["id"])
        async with asyncio.timeout(MARGIN_S):
            while created["id"] not in await anext(lines):
                pass
            assert (await ws.receive_json())["session_id"] == created["id"]
    await store.admin.aclose()


@pytest.mark.parametrize("after", [str(MAX_SEQ + 1), str(2**64), "-1", "1_0", "+5", "1.5", "x"])
async def test_out_of_range_cursor_is_422(live: Live, store: Store, after: str) -> None:
    for headers, params in (
        ({}, {"after": after}),
        (SSE, {"after": after}),
        ({**SSE, "Last-Event-ID": after}, {}),
    ):
        if "Last-Event-ID" not in headers and after in ("1_0", "+5"):
            continue  # a query integer: FastAPI's own parsing
        async with asyncio.timeout(10):
            r = await store.admin.get(f"{store.path}/events", params=params, headers=headers)
        assert r.status_code == 422, (headers, params, r.text)
        assert r.json()["error"]["code"] == "validation_error"
    url = _ws_url(live, store, f"after={after}&token={await store.key('readonly')}")
    async with httpx.AsyncClient() as client, aconnect_ws(url, client) as ws:
        async with asyncio.timeout(10):
            seen, code = await _closed(ws)
    assert code == 4422
    assert seen == [
        {"type": "error", "request_id": None, "error": seen[0]["error"]},
    ]
    assert seen[0]["error"]["code"] == "validation_error"


async def test_largest_cursor_is_accepted(live: Live, store: Store) -> None:
    r = await store.admin.get(f"{store.path}/events", params={"after": MAX_SEQ})
    assert r.status_code == 200 and r.json() == {"items": [], "next_after": MAX_SEQ}
    headers = {**SSE, "Last-Event-ID": str(MAX_SEQ)}
    async with store.admin.stream("GET", f"{store.path}/events", headers=headers) as r:
        assert r.status_code == 200


GARBAGE: list[tuple[str, str | bytes, str]] = [
    ("not JSON", "not json", "malformed_json"),
    ("binary", b"\x00\x01{}", "unsupported_media_type"),
    ("nested 100,000 deep", "[" * 100_000 + "]" * 100_000, "malformed_json"),
    ("an array", "[]", "validation_error"),
    ("a number", "42", "validation_error"),
    ("NaN", "NaN", "malformed_json"),
    ("unknown type", '{"type": "nope", "request_id": "r1"}', "validation_error"),
    ("no type", '{"session_id": "x"}', "validation_error"),
    ("over max_body_bytes", json.dumps({"type": "x", "pad": "x" * 1_048_576}), "payload_too_large"),
]


async def test_garbage_frames_get_error_frames_and_socket_stays_usable(
    live: Live, store: Store
) -> None:
    agent = await store.agent()
    chat = await store.session(agent["id"])
    key = await store.key("member")
    url = _ws_url(live, store, f"session_id={chat['id']}&types=run.queued&token={key}")
    async with httpx.AsyncClient() as client, aconnect_ws(url, client) as ws:
        for name, frame, code in GARBAGE:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_text(frame)
            async with asyncio.timeout(10):
                reply = await ws.receive_json()
            assert reply["type"] == "error", name
            assert reply["error"]["code"] == code, (name, reply)
            assert set(reply["error"]) == {"code", "message", "details"}
            assert reply["request_id"] == ("r1" if name == "unknown type" else None)
        request_id = uuid.uuid4().hex
        message = {"type": "chat.message_sent", "session_id": chat["id"], "content": "still here"}
        await ws.send_json({**message, "request_id": request_id})
        async with asyncio.timeout(10):
            replies = [await ws.receive_json() for _ in range(2)]
    by_type = {f["type"]: f for f in replies}
    assert by_type["ack"]["request_id"] == request_id
    assert by_type["run.queued"]["run_id"] == by_type["ack"]["run_id"]


async def test_streams_of_one_key_share_its_lookup() -> None:
    """Many streams re-check one key when its entry expires: one load between them; a load
    that ran across a deletion answers its callers but is not kept."""
    cache = KeyCache(ttl_s=60)
    loads = 0
    loading = asyncio.Event()
    release = asyncio.Event()

    async def load() -> KeyRecord | None:
        nonlocal loads
        loads += 1
        loading.set()
        await release.wait()
        return KeyRecord("st", "member", "key_1")

    waiting = [asyncio.ensure_future(cache.lookup("h", load)) for _ in range(50)]
    await loading.wait()  # the load starts after all 50 asked (they were scheduled first)
    release.set()
    found = await asyncio.gather(*waiting)
    assert loads == 1 and {f.key_id for f in found if f is not None} == {"key_1"}
    assert cache.get("h") is not None

    cache.forget("key_1")
    loading.clear()
    release.clear()
    pending = asyncio.ensure_future(cache.lookup("h", load))
    await loading.wait()
    cache.forget("key_1")  # deleted while the lookup read the row
    release.set()
    assert (await pending) is not None
    assert cache.get("h") is None
