"""PostgreSQL LISTEN/NOTIFY carries every process's events to readers on other machines.

Two server processes on one PostgreSQL database, each without the relay (so each stands for
a machine of its own), the second API-only, and readers that poll the log only every 60 s
and wait 60 s for a missing seq: what they see sooner came through notifications. The second
process listens through a TCP proxy the test can cut, for the lost-connection case. Then
notifiers in this process, on the same database, for what is cheaper to show without
servers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from loopwright.db.database import NOTIFY_QUEUED, Database
from loopwright.db.migrate import upgrade
from loopwright.db.repos import tenancy
from loopwright.domain.events import Event, NewEvent
from loopwright.events import log, pg_notify
from loopwright.events.hub import EventHub
from loopwright.events.notifier import start_notifiers, stop_notifiers
from loopwright.events.pg_notify import MAX_PAYLOAD, PgNotifier
from tests.conftest import PG_ADMIN_URL, make_settings, new_pg_database
from tests.procs import OPERATOR_KEY, STARTED, ServerProcess
from tests.sse import frames
from tests.tcp_proxy import Proxy


@dataclass
class Machines:
    url: str
    first: ServerProcess
    second: ServerProcess  # API only; listens through ``proxy``
    proxy: Proxy
    store: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def db_url() -> Iterator[str]:
    with new_pg_database() as url:
        yield url


@pytest.fixture(scope="module")
async def machines(
    tmp_path_factory: pytest.TempPathFactory, db_url: str
) -> AsyncIterator[Machines]:
    host, port = PG_ADMIN_URL.split("@", 1)[1].split("/", 1)[0].split(":")
    proxy = Proxy(host, int(port))
    await proxy.start()
    proxied = db_url.replace(f"@{host}:{port}/", f"@127.0.0.1:{proxy.url.rsplit(':', 1)[1]}/")
    env = {
        "LOOPWRIGHT_DATABASE_URL": db_url,
        "LOOPWRIGHT_RELAY": "false",  # each process stands for a machine of its own
        "LOOPWRIGHT_EVENT_POLL_S": "60",
        "LOOPWRIGHT_REORDER_S": "60",
        "LOOPWRIGHT_CANCEL_WATCH_S": "60",
        "LOOPWRIGHT_SWEEP_S": "60",  # runs another process queued start only when told
    }
    data_dir = tmp_path_factory.mktemp("notify")  # one secret key for both
    first = ServerProcess(data_dir, {**env, "LOOPWRIGHT_EXECUTOR_ID": "first"})
    second = ServerProcess(
        data_dir,
        {**env, "LOOPWRIGHT_EXECUTOR_ID": "second", "LOOPWRIGHT_LISTEN_DATABASE_URL": proxied},
    )
    second.extra_args = ["--no-worker"]  # API only: the first runs what it queues
    await asyncio.gather(first.start(), second.start())
    STARTED.remove(first)  # they live for the module, stopped below
    STARTED.remove(second)
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    store = f"st-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(headers=operator, timeout=30) as op:
        assert (await op.post(f"{first.base_url}/v1/stores", json={"id": store})).is_success
        r = await op.post(f"{first.base_url}/v1/stores/{store}/keys", json={"role": "admin"})
    try:
        yield Machines(
            db_url,
            first,
            second,
            proxy,
            store,
            {"Authorization": f"Bearer {r.json()['key']}"},
        )
    finally:
        await first.stop()
        await second.stop()
        await proxy.stop()


async def new_session(client: httpx.AsyncClient, base: str) -> str:
    agent = await client.post(
        f"{base}/agents",
        json={"name": f"a{uuid.uuid4().hex[:6]}", "model": "offline:default"},
    )
    chat = await client.post(f"{base}/sessions", json={"agent_id": agent.json()["id"]})
    return str(chat.json()["id"])


async def until_completed(reader: AsyncIterator[Any], seen: list[dict[str, Any]]) -> None:
    async for frame in reader:
        seen.append(frame.data)
        if frame.data["type"] == "run.completed":
            return


async def stream_until_completed(
    client: httpx.AsyncClient, base: str, session_id: str
) -> list[dict[str, Any]]:
    """The session's events from the log (a new reader's backlog) up to ``run.completed``."""
    seen: list[dict[str, Any]] = []
    async with client.stream(
        "GET",
        f"{base}/events",
        params={"session_id": session_id},
        headers={"Accept": "text/event-stream"},
    ) as stream:
        await asyncio.wait_for(until_completed(frames(stream), seen), 20)
    return seen


def check_once_in_order(seen: list[dict[str, Any]], logged: list[dict[str, Any]]) -> None:
    committed = [event for event in seen if event.get("seq") is not None]
    assert [e["seq"] for e in committed] == [e["seq"] for e in logged]  # every one, once
    deltas = "".join(e["payload"]["delta"] for e in seen if e["type"] == "llm.text_delta")
    answer = [e for e in logged if e["type"] == "llm.response_received"][-1]
    assert deltas and deltas == answer["payload"]["text"]  # streamed once, in order


async def test_a_reader_on_one_machine_sees_a_run_on_another_live_once_in_order(
    machines: Machines,
) -> None:
    async with httpx.AsyncClient(headers=machines.headers, timeout=30) as client:
        on_first = f"{machines.first.base_url}/v1/stores/{machines.store}"
        on_second = f"{machines.second.base_url}/v1/stores/{machines.store}"
        session_id = await new_session(client, on_first)
        seen: list[dict[str, Any]] = []
        async with client.stream(
            "GET",
            f"{on_second}/events",
            params={"session_id": session_id},
            headers={"Accept": "text/event-stream"},
        ) as stream:
            reader = frames(stream)
            seen.append((await anext(reader)).data)  # the backlog: session.created
            sent = await client.post(
                f"{on_first}/sessions/{session_id}/messages", json={"content": "hello there"}
            )
            assert sent.status_code == 202, sent.text
            await asyncio.wait_for(until_completed(reader, seen), 20)
        logged = await stream_until_completed(client, on_first, session_id)
    check_once_in_order(seen, logged)


async def test_a_lost_listen_connection_catches_up_from_the_log(machines: Machines) -> None:
    async with httpx.AsyncClient(headers=machines.headers, timeout=30) as client:
        on_first = f"{machines.first.base_url}/v1/stores/{machines.store}"
        on_second = f"{machines.second.base_url}/v1/stores/{machines.store}"
        session_id = await new_session(client, on_first)
        seen: list[dict[str, Any]] = []
        async with client.stream(
            "GET",
            f"{on_second}/events",
            params={"session_id": session_id},
            headers={"Accept": "text/event-stream"},
        ) as stream:
            reader = frames(stream)
            seen.append((await anext(reader)).data)
            machines.proxy.paused = True
            machines.proxy.refusing.clear()
            machines.proxy.cut()  # the second machine's LISTEN connection is gone
            await asyncio.wait_for(machines.proxy.refusing.wait(), 10)  # it tried again
            sent = await client.post(
                f"{on_first}/sessions/{session_id}/messages", json={"content": "while away"}
            )
            run_id = sent.json()["run"]["id"]
            r = await client.post(f"{on_first}/runs/{run_id}/wait", params={"timeout_s": 20})
            assert r.json()["status"] == "completed"  # every notification of it was lost
            machines.proxy.paused = False
            await asyncio.wait_for(until_completed(reader, seen), 20)
        logged = await stream_until_completed(client, on_first, session_id)
    committed = [event["seq"] for event in seen if event.get("seq") is not None]
    assert committed == [event["seq"] for event in logged]


async def test_a_run_an_api_process_queues_starts_on_a_worker_at_once(
    machines: Machines,
) -> None:
    """Not at the worker's next sweep (60 s here): the queueing transaction told it."""
    async with httpx.AsyncClient(headers=machines.headers, timeout=30) as client:
        on_second = f"{machines.second.base_url}/v1/stores/{machines.store}"
        session_id = await new_session(client, on_second)
        sent = await client.post(
            f"{on_second}/sessions/{session_id}/messages", json={"content": "from the API"}
        )
        run_id = sent.json()["run"]["id"]
        r = await client.post(f"{on_second}/runs/{run_id}/wait", params={"timeout_s": 20})
        assert r.json()["status"] == "completed"


# Notifiers in this process ------------------------------------------------------------


def delta(store: str, text: str) -> Event:
    return Event(
        store_id=store,
        seq=None,
        type="llm.text_delta",
        session_id="s1",
        run_id="r1",
        created_at=datetime.now(UTC),
        payload={"delta": text},
    )


async def next_event(queue: asyncio.Queue[Event]) -> Event:
    return await asyncio.wait_for(queue.get(), 10)


async def listening(*notifiers: PgNotifier) -> None:
    """Until each listens to what its hub wants (a reader just subscribed: events), and has
    read from the log what it missed meanwhile."""
    for notifier in notifiers:
        await asyncio.wait_for(notifier.listening.wait(), 10)
        await asyncio.wait_for(notifier.caught_up.wait(), 10)


@pytest.fixture
async def notifiers(
    machines: Machines,
) -> AsyncIterator[tuple[PgNotifier, PgNotifier, PgNotifier]]:
    """``sender``; ``peer``, which the relay would have given the sender's events already;
    ``remote``, another machine's process, a worker serving no streams (it listens to events
    only while a reader of its own waits)."""
    dbs = [Database(machines.url) for _ in range(3)]
    sender = PgNotifier(dbs[0], EventHub(), machines.url)
    peer = PgNotifier(dbs[1], EventHub(), machines.url, name="peer")
    peer._carried = lambda origin: origin in ("peer", sender.name)
    remote = PgNotifier(dbs[2], EventHub(), machines.url, events="when_read")
    for notifier in (sender, peer, remote):
        await notifier.start()
        await notifier.listening.wait()
    for notifier in (sender, peer, remote):  # each knows another listens
        await asyncio.wait_for(notifier.others_checked.wait(), 10)
        await asyncio.wait_for(notifier.others.wait(), 10)
    try:
        yield sender, peer, remote
    finally:
        for notifier in (sender, peer, remote):
            await notifier.stop()
        for db in dbs:
            await db.dispose()


async def test_events_a_relay_carried_are_not_notified_twice(
    machines: Machines, notifiers: tuple[PgNotifier, PgNotifier, PgNotifier]
) -> None:
    sender, peer, remote = notifiers
    store = machines.store
    with (
        peer.hub.subscribe(store) as from_peer,
        remote.hub.subscribe(store) as from_remote,
    ):
        await listening(peer, remote)
        async with sender.db.write(store) as session:
            appended = await log.append(
                session, store, [NewEvent(type="task.created", payload={"n": 1})]
            )
        sender.hub.publish([delta(store, "Hel")])
        assert (await next_event(from_remote.queue)).seq == appended[0].seq
        assert (await next_event(from_remote.queue)).payload == {"delta": "Hel"}
        marker = delta(store, "marker")  # behind anything the peer might have taken
        remote.hub.publish([marker])
        assert (await next_event(from_peer.queue)).payload == {"delta": "marker"}
        assert from_peer.queue.empty()


async def test_a_delta_too_large_for_a_notification_is_dropped_not_raised(
    machines: Machines, notifiers: tuple[PgNotifier, PgNotifier, PgNotifier]
) -> None:
    sender, _, remote = notifiers
    store = machines.store
    with remote.hub.subscribe(store) as sub:
        await listening(remote)
        sender.hub.publish([delta(store, "x" * MAX_PAYLOAD)])
        sender.hub.publish([delta(store, "ok")])
        assert (await next_event(sub.queue)).payload == {"delta": "ok"}
    assert sender.dropped == 1


async def test_small_events_ride_in_their_notification_large_ones_are_read_from_the_log(
    machines: Machines, notifiers: tuple[PgNotifier, PgNotifier, PgNotifier]
) -> None:
    sender, _, remote = notifiers
    store = machines.store
    with remote.hub.subscribe(store) as sub:
        await listening(remote)
        async with sender.db.write(store) as session:
            small = await log.append(
                session,
                store,
                [NewEvent(type="task.created", payload={"n": n}) for n in range(2)],
            )
        assert [await next_event(sub.queue) for _ in small] == small
        assert (remote.carried_events, remote.log_reads) == (2, 0)
        async with sender.db.write(store) as session:
            large = await log.append(
                session, store, [NewEvent(type="task.created", payload={"x": "x" * MAX_PAYLOAD})]
            )
        assert await next_event(sub.queue) == large[0]
        assert (remote.carried_events, remote.log_reads) == (2, 1)


async def test_events_notified_after_a_gap_come_with_the_gap_from_the_log(
    machines: Machines, notifiers: tuple[PgNotifier, PgNotifier, PgNotifier]
) -> None:
    """A reader's events stay in order when a notification before them went missing: here
    an append nobody notified (a process without a notifier)."""
    sender, _, remote = notifiers
    store = machines.store
    quiet = Database(machines.url)
    try:
        with remote.hub.subscribe(store) as sub:
            await listening(remote)
            async with quiet.write(store) as session:
                before = await log.high_water(session, store)
                missed = await log.append(session, store, [NewEvent(type="task.created")])
            remote.hub.note_high_water(store, before)  # a reader read the log up to there
            async with sender.db.write(store) as session:
                notified = await log.append(session, store, [NewEvent(type="task.created")])
            assert [await next_event(sub.queue) for _ in range(2)] == missed + notified
        assert (remote.carried_events, remote.log_reads) == (0, 1)
    finally:
        await quiet.dispose()


async def test_a_process_nobody_reads_from_is_sent_only_the_runs_it_may_start(
    machines: Machines, notifiers: tuple[PgNotifier, PgNotifier, PgNotifier]
) -> None:
    """A worker whose process has no reader listens to queued runs only: the events and
    token deltas of runs it does not read cost it nothing, however many workers there are."""
    sender, _, idle = notifiers
    store = machines.store
    woken: asyncio.Queue[str] = asyncio.Queue()
    idle.hub.watch_queued(woken.put_nowait)
    witness = PgNotifier(Database(machines.url), EventHub(), machines.url)
    await witness.start()
    try:
        with witness.hub.subscribe(store) as seen:
            await listening(idle, witness)
            assert idle.channels == {log.QUEUED_CHANNEL}
            async with sender.db.write(store) as session:
                appended = await log.append(session, store, [NewEvent(type="task.created")])
            sender.hub.publish([delta(store, "Hel")])
            assert await next_event(seen.queue) == appended[0]
            assert (await next_event(seen.queue)).payload == {"delta": "Hel"}
            async with sender.db.write(store) as session:  # as an API-only process does
                session.info[NOTIFY_QUEUED] = True
                await log.append(session, store, [NewEvent(type="run.queued")])
            assert await asyncio.wait_for(woken.get(), 10) == store
        # the wake-up (and the witness's word that it listens, if it came after the LISTEN)
        assert idle.notifications - idle.hellos == 1
        assert (idle.carried_events, idle.log_reads) == (0, 0)
    finally:
        idle.hub.unwatch_queued(woken.put_nowait)
        await witness.stop()
        await witness.db.dispose()


async def test_a_first_reader_starts_the_events_and_reads_what_came_before_from_the_log(
    machines: Machines, notifiers: tuple[PgNotifier, PgNotifier, PgNotifier]
) -> None:
    """Events appended while nobody here read them: the reader that makes the process
    listen again finds them in order, from the log, then the next ones notified."""
    sender, _, remote = notifiers
    store = machines.store
    await listening(remote)
    assert remote.channels == set()
    async with sender.db.write(store) as session:
        before = await log.high_water(session, store)
        unheard = await log.append(session, store, [NewEvent(type="task.created")])
    with remote.hub.subscribe(store) as sub:
        remote.hub.note_high_water(store, before)  # the reader read the log up to there
        await listening(remote)
        assert remote.channels == {log.NOTIFY_CHANNEL}
        async with sender.db.write(store) as session:
            notified = await log.append(session, store, [NewEvent(type="task.created")])
        assert [await next_event(sub.queue) for _ in range(2)] == unheard + notified


@pytest.mark.parametrize("streams", [True, False])
async def test_only_a_process_serving_streams_listens_to_events_without_readers(
    machines: Machines, tmp_path: Path, streams: bool
) -> None:
    """``serve`` starts its notifiers with streams, ``loopwright worker`` without: a stream
    opened just before a run must see its first token deltas; a worker has no stream. A
    stream opening or closing changes nothing a process serving streams listens to, so its
    ``LISTEN`` connection goes on receiving (it once stopped and listened again each time)."""
    settings = make_settings(tmp_path, machines.url, relay=False)
    db = Database(machines.url)
    hub = EventHub()
    notifiers = await start_notifiers(settings, db, hub, streams=streams)
    try:
        (notifier,) = notifiers
        assert isinstance(notifier, PgNotifier)
        await listening(notifier)
        assert notifier.channels == ({log.NOTIFY_CHANNEL} if streams else set())
        with hub.subscribe(machines.store):
            assert notifier.listening.is_set() == streams  # a worker listens again
            await listening(notifier)
            assert notifier.channels == {log.NOTIFY_CHANNEL}
        assert notifier.listening.is_set()  # the worker lingers before it stops listening
    finally:
        await stop_notifiers(notifiers)
        await db.dispose()


def test_the_listen_connection_names_itself(machines: Machines) -> None:
    """Operators find the LISTEN connections by name (one per process)."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        names = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name LIKE 'loopwright-listen %%' AND datname = %s",
            (machines.url.rsplit("/", 1)[1],),
        ).fetchone()
    assert names is not None and names[0] >= 2


async def test_a_process_alone_notifies_nothing_until_another_says_it_listens(
    own_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One server on PostgreSQL would only send its own listener what that drops: while no
    other process listens it sends nothing. One that starts listening says so, and is heard
    at once, not at the next look at the listeners (never, here)."""
    monkeypatch.setattr(pg_notify, "OTHERS_CHECK_S", 3600.0)
    await asyncio.to_thread(upgrade, own_pg_url)
    store = f"alone-{uuid.uuid4().hex[:8]}"
    alone = PgNotifier(Database(own_pg_url), EventHub(), own_pg_url)
    joined = PgNotifier(Database(own_pg_url), EventHub(), own_pg_url)
    await alone.start()
    try:
        async with alone.db.write(store) as session:
            await tenancy.create_store(session, store, store)
        await asyncio.wait_for(alone.others_checked.wait(), 10)
        assert not alone.others.is_set() and alone.db.notify_origin is None
        async with alone.db.write(store) as session:
            before = await log.append(session, store, [NewEvent(type="task.created")])
        alone.hub.publish([delta(store, "unheard")])
        assert alone._outbox == []  # not even queued
        await joined.start()
        with joined.hub.subscribe(store) as seen:
            joined.hub.note_high_water(store, before[0].seq or 0)
            await listening(joined)
            await asyncio.wait_for(alone.others.wait(), 10)
            # notifications come in commit order: one for its append would have come first
            assert alone.notifications == alone.hellos == 1
            async with alone.db.write(store) as session:
                after = await log.append(session, store, [NewEvent(type="task.created")])
            alone.hub.publish([delta(store, "heard")])
            assert await next_event(seen.queue) == after[0]
            assert (await next_event(seen.queue)).payload == {"delta": "heard"}
        assert (joined.carried_events, joined.log_reads) == (1, 0)
    finally:
        for notifier in (joined, alone):
            await notifier.stop()
            await notifier.db.dispose()


async def test_who_listens_is_whom_the_relay_does_not_reach_or_an_earlier_release(
    own_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relay peer's listener makes a process notify only if it is API-only (the relay
    carries no wake-ups of queued runs); a listener of an earlier release (named
    ``loopwright-listen`` alone, it says no hello) counts as another process."""
    monkeypatch.setattr(pg_notify, "OTHERS_CHECK_S", 3600.0)  # each looks once, at its start
    await asyncio.to_thread(upgrade, own_pg_url)
    db = Database(own_pg_url)
    peer = PgNotifier(Database(own_pg_url), EventHub(), own_pg_url, name="peer")
    await peer.start()

    async def looked(name: str) -> PgNotifier:
        notifier = PgNotifier(
            db, EventHub(), own_pg_url, name=name, carried=lambda o: o in (name, "peer")
        )
        await notifier.start()
        await asyncio.wait_for(notifier.others_checked.wait(), 10)
        return notifier

    try:
        await asyncio.wait_for(peer.listening.wait(), 10)
        lone = await looked("lone")
        assert not lone.others.is_set() and db.notify_origin is None
        await lone.stop()
        db.wake_workers = True
        api = await looked("api")
        assert not api.others.is_set() and db.notify_origin == "api"
        await api.stop()
        db.wake_workers = False
        async with await psycopg.AsyncConnection.connect(
            pg_notify.conninfo(own_pg_url), application_name="loopwright-listen"
        ):
            newer = await looked("newer")
            assert newer.others.is_set() and db.notify_origin == "newer"
            await newer.stop()
    finally:
        await peer.stop()
        await peer.db.dispose()
        await db.dispose()
