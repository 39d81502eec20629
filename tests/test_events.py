"""The event log: JSON pages, SSE with resumption, filters, WebSocket, concurrent writers."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from httpx_ws import aconnect_ws

from tests.conftest import Live, Store
from tests.sse import frames

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

SSE = {"Accept": "text/event-stream"}


async def _sessions(store: Store, agent_id: str, n: int) -> list[str]:
    return [(await store.session(agent_id))["id"] for _ in range(n)]


async def test_json_page_with_cursor_and_filters(store: Store) -> None:
    agent = await store.agent()
    ids = await _sessions(store, agent["id"], 3)
    r = await store.admin.get(f"{store.path}/events", params={"types": "session.created"})
    page = r.json()
    assert [e["session_id"] for e in page["items"]] == ids
    seqs = [e["seq"] for e in page["items"]]
    assert seqs == sorted(seqs)
    r = await store.admin.get(
        f"{store.path}/events", params={"after": seqs[0], "types": "session.created", "limit": 1}
    )
    assert [e["session_id"] for e in r.json()["items"]] == [ids[1]]
    assert r.json()["next_after"] == seqs[1]
    r = await store.admin.get(f"{store.path}/events", params={"session_id": ids[2]})
    assert [e["type"] for e in r.json()["items"]] == ["session.created"]


async def test_bad_cursor_is_422(store: Store) -> None:
    assert (await store.admin.get(f"{store.path}/events", params={"after": -1})).status_code == 422
    r = await store.admin.get(f"{store.path}/events", headers={**SSE, "Last-Event-ID": "abc"})
    assert r.status_code == 422


async def test_sse_streams_backlog_then_live_and_resumes(store: Store) -> None:
    agent = await store.agent()
    first = await _sessions(store, agent["id"], 2)
    params = {"types": "session.created"}
    seen: list[tuple[int, str]] = []
    async with store.admin.stream("GET", f"{store.path}/events", params=params, headers=SSE) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = frames(r)
        for _ in range(2):
            frame = await anext(stream)
            seen.append((int(frame.id or 0), frame.data["session_id"]))
        live_id = (await store.session(agent["id"]))["id"]  # while connected
        frame = await anext(stream)
        assert frame.event == "session.created"
        assert frame.data["seq"] == int(frame.id or 0)
        seen.append((int(frame.id or 0), frame.data["session_id"]))
    assert [s for _, s in seen] == [*first, live_id]
    later = await _sessions(store, agent["id"], 2)  # while disconnected
    headers = {**SSE, "Last-Event-ID": str(seen[-1][0])}
    async with store.admin.stream(
        "GET", f"{store.path}/events", params=params, headers=headers
    ) as r:
        stream = frames(r)
        resumed = [(await anext(stream)).data["session_id"] for _ in range(2)]
    assert resumed == later


async def test_sse_sends_heartbeats(store: Store) -> None:
    async with store.admin.stream("GET", f"{store.path}/events", headers=SSE) as r:
        async for line in r.aiter_lines():
            if line.startswith(":"):
                break  # a comment line: the heartbeat arrived on an idle stream


async def test_concurrent_writers_resuming_reader_sees_each_event_once(any_live: Live) -> None:
    """Writers append concurrently while a reader repeatedly disconnects and resumes."""
    store = await any_live.new_store()
    agent = await store.agent()
    writers, per_writer = 4, 15

    async def write() -> list[str]:
        return await _sessions(store, agent["id"], per_writer)

    writing = asyncio.gather(*(write() for _ in range(writers)))
    received: list[tuple[int, str]] = []
    cursor = 0
    while len(received) < writers * per_writer:
        params = {"types": "session.created", "after": cursor}
        async with store.admin.stream(
            "GET", f"{store.path}/events", params=params, headers=SSE
        ) as r:
            stream = frames(r)
            for _ in range(7):  # read a few, then drop the connection mid-stream
                if len(received) == writers * per_writer:
                    break
                frame = await anext(stream)
                received.append((int(frame.id or 0), frame.data["session_id"]))
                cursor = int(frame.id or 0)
    created = {sid for batch in await writing for sid in batch}
    seqs = [seq for seq, _ in received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [sid for _, sid in received] == list(dict.fromkeys(sid for _, sid in received))
    assert {sid for _, sid in received} == created
    await store.admin.aclose()


async def test_websocket_streams_events_and_accepts_messages(live: Live, store: Store) -> None:
    agent = await store.agent()
    chat = await store.session(agent["id"])
    key = await store.key("member")
    url = f"{live.base_url.replace('http', 'ws')}{store.path}/ws"
    async with (
        httpx.AsyncClient() as client,
        aconnect_ws(f"{url}?session_id={chat['id']}&token={key}", client) as ws,
    ):
        assert (await ws.receive_json())["type"] == "session.created"
        request_id = uuid.uuid4().hex
        await ws.send_json(
            {
                "type": "chat.message_sent",
                "session_id": chat["id"],
                "content": "hello over ws",
                "request_id": request_id,
            }
        )
        frames_seen = [await ws.receive_json() for _ in range(3)]
    by_type = {f["type"]: f for f in frames_seen}
    assert by_type["ack"]["request_id"] == request_id
    assert by_type["chat.message_sent"]["payload"]["content"] == "hello over ws"
    assert by_type["run.queued"]["run_id"] == by_type["ack"]["run_id"]


async def test_websocket_refuses_bad_keys_and_readonly_senders(live: Live, store: Store) -> None:
    url = f"{live.base_url.replace('http', 'ws')}{store.path}/ws"
    async with httpx.AsyncClient() as client:
        async with aconnect_ws(f"{url}?token=lw_wrong", client) as ws:
            assert (await ws.receive_json())["error"]["code"] == "unauthenticated"
        readonly = await store.key("readonly")
        async with aconnect_ws(f"{url}?token={readonly}", client) as ws:
            await ws.send_json({"type": "chat.message_sent", "session_id": "x", "content": "hi"})
            reply = await ws.receive_json()
            assert reply["type"] == "error" and reply["error"]["code"] == "forbidden"
            await ws.send_json({"type": "chat.message_sent"})
            assert (await ws.receive_json())["error"]["code"] == "validation_error"


async def test_a_stream_on_an_unknown_store_is_404_before_it_starts(store: Store) -> None:
    """The operator's key names any store: one that does not exist is a 404, not a stream
    (a store's own key names its store, which exists while the key does)."""
    missing = f"/v1/stores/gone-{uuid.uuid4().hex[:8]}/events"
    async with store.live.http.stream("GET", missing, headers=SSE) as r:
        assert r.status_code == 404
        assert json.loads(await r.aread())["error"]["code"] == "not_found"
