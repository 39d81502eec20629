"""The relay hands each process's events to the other processes of the same database on this
machine: unit tests on real Unix sockets (two relays in this process, each with its own hub),
then two real server processes on one database, one streaming what the other runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from loopwright.domain.events import Event, EventFilter
from loopwright.events import relay as relay_module
from loopwright.events.hub import EventHub
from loopwright.events.relay import Relay, group_dir
from tests.llm.fakes import Reply
from tests.procs import OPERATOR_KEY, ServerProcess
from tests.scripted import GatedLLM, Hold
from tests.sse import frames
from tests.tenant import Tenant


def event(seq: int | None, payload: dict[str, object] | None = None) -> Event:
    return Event(
        store_id="relayed",
        seq=seq,
        type="task.created",
        session_id="s1",
        run_id="r1",
        created_at=datetime.now(UTC),
        payload=payload or {"n": seq},
    )


@pytest.fixture
def directory() -> Iterator[Path]:
    path = group_dir(f"test-{uuid.uuid4()}")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def opened(relay: Relay) -> Iterator[Relay]:
    loop = asyncio.get_running_loop()
    relay.open(loop)
    try:
        yield relay
    finally:
        relay.close(loop)


async def next_event(queue: asyncio.Queue[Event]) -> Event:
    return await asyncio.wait_for(queue.get(), 5)


async def greeted(older: Relay, newer: Relay) -> None:
    """Until the older relay has taken the newer one's hello: a datagram the newer one sent
    after it has arrived (one sender's datagrams keep their order)."""
    with older.hub.subscribe("greeting") as sub:
        newer.hub.publish([replace(event(1), store_id="greeting")])
        await next_event(sub.queue)


async def test_events_published_in_one_process_reach_the_other_in_order(
    directory: Path,
) -> None:
    first_hub, second_hub = EventHub(), EventHub()
    with (
        opened(Relay(directory, first_hub)) as first,
        opened(Relay(directory, second_hub)) as second,
        second_hub.subscribe("relayed", EventFilter(session_id="s1")) as sub,
    ):
        await greeted(first, second)  # its hello makes the first send to it
        first_hub.publish([event(1), event(2)])
        first_hub.publish([event(None, {"delta": "Hel"})])
        got = [await next_event(sub.queue) for _ in range(3)]
        assert [e.seq for e in got] == [1, 2, None]
        assert got[0].created_at.tzinfo is not None
        assert got[2].payload == {"delta": "Hel"}
        assert second_hub.published("relayed", 1, 2)


async def test_relayed_events_are_not_relayed_back(directory: Path) -> None:
    first_hub, second_hub = EventHub(), EventHub()
    with (
        opened(Relay(directory, first_hub)) as first,
        opened(Relay(directory, second_hub)) as second,
        first_hub.subscribe("relayed") as mine,
        second_hub.subscribe("relayed") as theirs,
    ):
        await greeted(first, second)
        first_hub.publish([event(1)])
        assert (await next_event(theirs.queue)).seq == 1
        first_hub.publish([event(2)])  # a marker behind anything echoed back
        assert (await next_event(theirs.queue)).seq == 2
        assert [(await next_event(mine.queue)).seq, (await next_event(mine.queue)).seq] == [1, 2]
        assert mine.queue.empty()


async def test_a_dead_peers_socket_is_dropped_and_removed(directory: Path) -> None:
    hub = EventHub()
    with opened(Relay(directory, hub)) as relay:
        dead = directory / "999999999.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(dead))  # bound, then closed without unlinking: a killed process
        relay._read_peers()
        hub.publish([event(1)])
        assert not dead.exists()
        hub.publish([event(2)])  # and nothing fails on the next send


async def test_a_batch_too_large_for_a_datagram_is_dropped_not_raised(directory: Path) -> None:
    first_hub, second_hub = EventHub(), EventHub()
    with (
        opened(Relay(directory, first_hub)) as first,
        opened(Relay(directory, second_hub)) as second,
        second_hub.subscribe("relayed") as sub,
    ):
        await greeted(first, second)
        first_hub.publish([event(1, {"text": "x" * 8_000_000})])
        first_hub.publish([event(2)])
        assert (await next_event(sub.queue)).seq == 2  # the peer reads the log for seq 1
        assert first.dropped == 1


async def test_a_malformed_datagram_is_ignored(directory: Path) -> None:
    hub = EventHub()
    with (
        opened(Relay(directory, hub)) as relay,
        opened(Relay(directory, EventHub())) as other,
        hub.subscribe("relayed") as sub,
    ):
        assert other._sock is not None
        other._sock.sendto(b"E[1, 2", str(relay.path))
        other._sock.sendto(b"E" + b'[["relayed", 7]]', str(relay.path))
        other.hub.publish([event(8)])  # the newer relay read the older from the directory
        assert (await next_event(sub.queue)).seq == 8


# Two server processes on one database -------------------------------------------------


@pytest.fixture
async def two_servers(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """Readers look for other processes' events, and workers for cancellations of their runs,
    only every 60 s: what they see sooner came through the relay."""
    env = {
        "LOOPWRIGHT_EVENT_POLL_S": "60",
        "LOOPWRIGHT_REORDER_S": "60",
        "LOOPWRIGHT_CANCEL_WATCH_S": "60",
        "LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32",
    }
    first = ServerProcess(tmp_path, {**env, "LOOPWRIGHT_EXECUTOR_ID": "first"})
    second = ServerProcess(tmp_path, {**env, "LOOPWRIGHT_EXECUTOR_ID": "second"})
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.stop()
        await second.stop()


async def test_a_reader_on_one_process_sees_a_run_on_another_live(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_servers
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(headers=operator, timeout=30) as op:
        assert (await op.post(f"{first.base_url}/v1/stores", json={"id": "pair"})).is_success
        r = await op.post(f"{first.base_url}/v1/stores/pair/keys", json={"role": "admin"})
        key = r.json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        agent = await client.post(
            f"{first.base_url}/v1/stores/pair/agents",
            json={"name": "a", "model": "offline:default", "tools": ["create_task"]},
        )
        session_id = (
            await client.post(
                f"{first.base_url}/v1/stores/pair/sessions",
                json={"agent_id": agent.json()["id"]},
            )
        ).json()["id"]
        seen: list[str] = []
        async with client.stream(
            "GET",
            f"{first.base_url}/v1/stores/pair/events",
            params={"session_id": session_id},
            headers={"Accept": "text/event-stream"},
        ) as stream:
            reader = frames(stream)
            seen.append((await anext(reader)).data["type"])  # the backlog: session.created
            sent = await client.post(
                f"{second.base_url}/v1/stores/pair/sessions/{session_id}/messages",
                json={"content": "create a task called Relay me"},
            )
            assert sent.status_code in (200, 201, 202), sent.text

            async def until_completed() -> None:
                async for frame in reader:
                    seen.append(frame.data["type"])
                    if frame.data["type"] == "run.completed":
                        return

            await asyncio.wait_for(until_completed(), 20)
    assert seen[:3] == ["session.created", "chat.message_sent", "run.queued"]
    assert "task.created" in seen
    assert "llm.text_delta" in seen  # ephemeral: only the relay could have carried it


async def test_a_burst_beyond_the_peers_datagram_queue_waits_and_arrives_in_order(
    directory: Path,
) -> None:
    """A receiver's socket queues only ``net.unix.max_dgram_qlen`` datagrams (often 10):
    the rest wait in the sender until the receiver reads, and none is lost."""
    os.mkdir(directory, mode=0o700)
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    slow.bind(str(directory / "slow.sock"))  # a peer that does not read for a while
    slow.setblocking(False)
    hub = EventHub()
    loop = asyncio.get_running_loop()
    with opened(Relay(directory, hub)) as relay:
        assert await loop.sock_recv(slow, 1 << 16) == b"H" + str(relay.path).encode()
        for seq in range(1, 51):
            hub.publish([event(seq)])
            await asyncio.sleep(0)  # one loop iteration: one batch, one datagram each
        received: list[int] = []
        while len(received) < 50:
            datagram = await asyncio.wait_for(loop.sock_recv(slow, 1 << 20), 5)
            received += [item[1] for item in json.loads(datagram[1:])]
        assert received == list(range(1, 51))
        assert relay.dropped == 0
    slow.close()


async def test_a_process_without_peers_encodes_nothing(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every event and token goes through ``send``: a server of one process must not pay
    for encoding what nobody receives."""
    encoded: list[object] = []
    monkeypatch.setattr(relay_module, "to_json", lambda value: encoded.append(value) or b"")
    hub = EventHub()
    with opened(Relay(directory, hub)):
        hub.publish([event(1), event(None, {"delta": "x"})])
    assert encoded == []


async def test_a_cancel_on_one_process_interrupts_the_run_on_another_at_once(
    two_servers: tuple[ServerProcess, ServerProcess], fake: tuple[GatedLLM, str]
) -> None:
    first, second = two_servers
    llm, model_url = fake
    tenant = await Tenant.create(first.base_url, model_url)
    llm.push(Hold(Reply(text=["never sent"])))
    run_id = await tenant.send("hang")  # run by the first process, which took the message
    await llm.wait_for_requests(1)

    r = await tenant.on(second.base_url).http.post(f"/runs/{run_id}/cancel")
    assert r.json()["status"] == "cancelled"
    await llm.wait_for_abandoned(1, timeout_s=10)  # the first process hung up on the model
    assert (await tenant.wait(run_id))["status"] == "cancelled"
