"""The hub hands each event only to the readers that want it, and followers filtered by
session still see every event of theirs exactly once, in order, also when another process
appends between the events this process publishes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.db.repos import tenancy
from loopwright.db.row_security import ALL_STORES
from loopwright.domain.events import Event, EventFilter, NewEvent
from loopwright.events import log
from loopwright.events.follow import follow
from loopwright.events.hub import EventHub

STORE = "hubstore"


def event(seq: int | None, session: str, run: str = "run_x", type_: str = "x") -> Event:
    return Event(
        store_id=STORE,
        seq=seq,
        type=type_,  # type: ignore[arg-type]
        session_id=session,
        run_id=run,
        created_at=datetime.now(UTC),
        payload={},
    )


def drain(queue: asyncio.Queue[Event]) -> list[int | None]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait().seq)
    return out


def test_a_reader_gets_only_the_events_its_filter_wants() -> None:
    hub = EventHub()
    with (
        hub.subscribe(STORE, EventFilter(session_id="a")) as in_a,
        hub.subscribe(STORE, EventFilter(run_id="run_2", types=frozenset({"y"}))) as run_2,
        hub.subscribe(STORE) as everything,
        hub.subscribe("other-store") as elsewhere,
    ):
        hub.publish([event(1, "a"), event(2, "b", "run_2", "y"), event(3, "a", "run_2", "x")])
        hub.publish([event(None, "a"), event(4, "b")])

        assert drain(in_a.queue) == [1, 3, None]
        assert drain(run_2.queue) == [2]
        assert drain(everything.queue) == [1, 2, 3, None, 4]
        assert drain(elsewhere.queue) == []


def test_the_hub_vouches_for_every_seq_it_published_in_any_order() -> None:
    hub = EventHub()
    assert not hub.published(STORE, 1, 1)
    hub.publish([event(5, "a"), event(6, "b"), event(7, "a")])
    assert hub.published(STORE, 6, 7)
    assert not hub.published(STORE, 4, 7)  # 4 never went through this hub
    hub.publish([event(9, "a")])  # 8 was appended elsewhere, or is still being relayed
    assert not hub.published(STORE, 8, 9)
    assert not hub.published(STORE, 7, 9)
    assert hub.published(STORE, 5, 7)
    hub.publish([event(8, "b")])  # relayed late: the gap is filled
    assert hub.published(STORE, 5, 9)
    hub.publish([event(12, "a"), event(11, "a"), event(10, "a")])
    assert hub.published(STORE, 5, 12)
    assert not hub.published("other-store", 5, 5)


def test_the_hub_forgets_its_oldest_intervals_first() -> None:
    hub = EventHub()
    for seq in range(1, 200, 2):  # 100 intervals of one seq each
        hub.publish([event(seq, "a")])
    assert hub.published(STORE, 199, 199)
    assert not hub.published(STORE, 1, 1)  # forgotten: a reader would go to the log


def test_unsubscribing_stops_delivery() -> None:
    hub = EventHub()
    with hub.subscribe(STORE, EventFilter(session_id="a")) as sub:
        pass
    hub.publish([event(1, "a")])
    assert sub.queue.empty()


class NotingHub(EventHub):
    """Tells the test each time a reader records the store's high-water."""

    def __init__(self) -> None:
        super().__init__()
        self.noted: asyncio.Queue[int] = asyncio.Queue()

    def note_high_water(self, store_id: str, seq: int) -> None:
        super().note_high_water(store_id, seq)
        self.noted.put_nowait(seq)


@pytest.fixture
async def databases(tmp_path: Path) -> AsyncIterator[tuple[Database, Database, NotingHub]]:
    """This process's database (publishing to a hub) and another process's (publishing
    nowhere) on one SQLite file."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade, url)
    ours, theirs, hub = Database(url), Database(url), NotingHub()
    ours.on_commit(hub.publish)
    async with ours.write(ALL_STORES) as session:
        await tenancy.create_store(session, STORE, STORE)
    yield ours, theirs, hub
    await ours.dispose()
    await theirs.dispose()


async def append(db: Database, session_id: str, n: int) -> None:
    async with db.write(ALL_STORES) as session:
        await log.append(session, STORE, [NewEvent("task.created", {"n": n}, session_id)])


async def test_a_session_follower_sees_its_events_across_foreign_appends(
    databases: tuple[Database, Database, NotingHub],
) -> None:
    ours, theirs, hub = databases
    received: list[int] = []
    done = asyncio.Event()

    async def reader() -> None:
        where = EventFilter(session_id="mine")
        async for e in follow(ours, hub, STORE, 0, where, poll_s=0.05):
            assert e.session_id == "mine"
            received.append(e.payload["n"])
            if e.payload["n"] == 19:
                done.set()
                return

    task = asyncio.create_task(reader())
    for n in range(20):
        # Other sessions' events in between, some committed by "another process" (no hub).
        await append(ours, "other", 100 + n)
        await append(theirs if n % 3 == 0 else ours, "mine", n)
        await append(theirs if n % 4 == 0 else ours, "other", 200 + n)
    await asyncio.wait_for(done.wait(), timeout=10)
    await task
    assert received == list(range(20))


async def test_a_quiet_reader_reads_the_log_only_for_what_the_hub_did_not_pass(
    databases: tuple[Database, Database, NotingHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, theirs, hub = databases
    log_reads = count_log_reads(monkeypatch)
    received: asyncio.Queue[int] = asyncio.Queue()

    async def reader() -> None:
        async for e in follow(ours, hub, STORE, 0, EventFilter(session_id="mine"), poll_s=0.01):
            received.put_nowait(e.payload["n"])

    task = asyncio.create_task(reader())
    try:
        assert await asyncio.wait_for(hub.noted.get(), 5) == 0  # the backlog: empty
        for n in range(5):  # other sessions' events, all through this process's hub
            await append(ours, "other", n)
        while await asyncio.wait_for(hub.noted.get(), 5) < 5:
            pass  # quiet waits until one saw the high-water at 5
        assert log_reads == []  # the hub vouched for 1..5: no read of the log

        await append(theirs, "mine", 42)  # another process: the hub never saw it
        assert await asyncio.wait_for(received.get(), 5) == 42
        assert len(log_reads) == 1
    finally:
        task.cancel()


async def test_events_queued_as_a_quiet_wait_times_out_are_not_passed_over(
    databases: tuple[Database, Database, NotingHub],
) -> None:
    """With ``poll_s=0`` every wait times out with the events already queued: the reader
    must still take each one, never count it as seen because the hub vouched for it."""
    ours, _, hub = databases
    received: asyncio.Queue[int] = asyncio.Queue()

    async def reader() -> None:
        async for e in follow(ours, hub, STORE, 0, EventFilter(session_id="mine"), poll_s=0):
            received.put_nowait(e.payload["n"])

    task = asyncio.create_task(reader())
    try:
        await asyncio.wait_for(hub.noted.get(), 5)  # subscribed, backlog read: all live now
        for n in range(10):
            await append(ours, "mine", n)
            await append(ours, "other", 100 + n)
        got = [await asyncio.wait_for(received.get(), 5) for _ in range(10)]
        assert got == list(range(10))
    finally:
        task.cancel()


def count_log_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The reader's reads of the log after its backlog (its first)."""
    reads: list[int] = []
    calls: list[int] = []
    read_to_high_water = log.read_to_high_water

    async def counted(*args: object, **kwargs: object) -> tuple[list[Event], int]:
        if calls:
            reads.append(1)
        calls.append(1)
        return await read_to_high_water(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(log, "read_to_high_water", counted)
    return reads


async def follow_mine(db: Database, hub: EventHub, received: asyncio.Queue[object]) -> None:
    async for e in follow(db, hub, STORE, 0, EventFilter(session_id="mine"), poll_s=30):
        received.put_nowait(e.payload["n"])


async def test_an_event_relayed_late_is_released_in_seq_order_without_a_log_read(
    databases: tuple[Database, Database, NotingHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer's event reaches the hub after a later one of ours: the reader holds ours until
    the relayed one arrives, then hands both over in seq order."""
    ours, theirs, hub = databases
    hub.reorder_s = 30  # the gap is filled long before this
    log_reads = count_log_reads(monkeypatch)
    relayed: list[Event] = []
    theirs.on_commit(relayed.extend)  # a peer process: its events reach us when relayed
    received: asyncio.Queue[object] = asyncio.Queue()
    task = asyncio.create_task(follow_mine(ours, hub, received))
    try:
        await asyncio.wait_for(hub.noted.get(), 5)  # backlog read: live from here
        await append(theirs, "mine", 1)
        await append(ours, "other", 2)
        await append(ours, "mine", 3)
        hub.publish(relayed)
        got = [await asyncio.wait_for(received.get(), 5) for _ in range(2)]
        assert got == [1, 3]
        assert log_reads == []
    finally:
        task.cancel()


async def test_a_gap_no_peer_fills_sends_the_reader_to_the_log(
    databases: tuple[Database, Database, NotingHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, theirs, hub = databases
    hub.reorder_s = 0.05
    log_reads = count_log_reads(monkeypatch)
    received: asyncio.Queue[object] = asyncio.Queue()
    task = asyncio.create_task(follow_mine(ours, hub, received))
    try:
        await asyncio.wait_for(hub.noted.get(), 5)
        await append(theirs, "mine", 1)  # never relayed
        await append(ours, "mine", 2)
        got = [await asyncio.wait_for(received.get(), 5) for _ in range(2)]
        assert got == [1, 2]
        assert log_reads == [1]
    finally:
        task.cancel()


async def test_a_token_delta_keeps_its_place_behind_a_held_event(
    databases: tuple[Database, Database, NotingHub],
) -> None:
    ours, theirs, hub = databases
    hub.reorder_s = 30
    relayed: list[Event] = []
    theirs.on_commit(relayed.extend)
    received: asyncio.Queue[object] = asyncio.Queue()
    task = asyncio.create_task(follow_mine(ours, hub, received))
    try:
        await asyncio.wait_for(hub.noted.get(), 5)
        await append(theirs, "mine", 1)
        await append(ours, "mine", 2)
        delta = event(None, "mine", type_="llm.text_delta")
        delta.payload["n"] = "delta"
        hub.publish([delta])
        hub.publish(relayed)
        got = [await asyncio.wait_for(received.get(), 5) for _ in range(3)]
        assert got == [1, 2, "delta"]
    finally:
        task.cancel()


async def test_a_follower_starts_no_task_per_event(
    databases: tuple[Database, Database, NotingHub],
) -> None:
    """Waiting for the next event is a timer on the reader's own task: ``asyncio.wait_for``
    started a task per event (5 per turn of the per-core bench)."""
    ours, _theirs, hub = databases
    loop = asyncio.get_running_loop()
    started = 0
    reading: asyncio.Task[None] | None = None

    def counting(loop: asyncio.AbstractEventLoop, coro: object, **kwargs: object) -> object:
        nonlocal started
        if asyncio.current_task(loop) is reading:  # only what the reader starts: not this
            started += 1  # test's own wait_for, nor anything else sharing the process
        return asyncio.Task(coro, loop=loop, **kwargs)  # type: ignore[arg-type]

    received: list[int] = []
    done = asyncio.Event()

    async def reader() -> None:
        async for e in follow(ours, hub, STORE, 0, EventFilter(session_id="mine"), poll_s=30):
            received.append(e.payload["n"])
            if len(received) == 20:
                done.set()
                return

    task = reading = asyncio.create_task(reader())
    await append(ours, "mine", -1)  # the reader is past its backlog and waits live
    loop.set_task_factory(counting)  # type: ignore[arg-type]
    try:
        for n in range(19):
            await append(ours, "mine", n)
            await asyncio.sleep(0.005)  # the reader takes it and waits again
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        loop.set_task_factory(None)
    await task
    assert received == list(range(-1, 19))
    assert started == 0  # not one per event
