"""Admission on a real database (SQLite and PostgreSQL): a store's runs take its slots in the
commit that queues or ends a run, waiting session heads go by priority then age, and
concurrent admissions never pass the limit."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from sqlalchemy import event, func, make_url, select
from sqlalchemy.engine import Connection, Engine

from loopwright.db.database import Database
from loopwright.db.repos import agents, conversations, tenancy
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import RunRow, StoreRow, UsageCounterRow
from loopwright.domain.events import NewEvent
from loopwright.domain.vocabulary import Priority
from loopwright.events import log
from loopwright.runtime import lifecycle
from loopwright.runtime.admission import Budget, admit_in
from loopwright.runtime.submit import Submission, submit_message


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.id = f"adm-{uuid.uuid4().hex[:8]}"
        self.agent_id = ""

    async def create(self) -> Store:
        async with self.db.write(ALL_STORES) as session:
            store = await tenancy.create_store(session, self.id, self.id)
            store.settings = {"runs_per_min": None, "tokens_per_min": None}  # admission only
        async with self.db.write(ALL_STORES) as session:
            agent = await agents.create(session, self.id, {"name": "a", "model": "offline:default"})
        self.agent_id = agent.id
        return self

    async def session(self) -> str:
        async with self.db.write(ALL_STORES) as session:
            chat = await conversations.create_session(
                session, self.id, self.agent_id, "", "enqueue"
            )
        return chat.id

    async def send(
        self, session_id: str | None = None, priority: Priority = "normal", **budget: int
    ) -> tuple[str, list[str]]:
        """(the run's id, the runs its commit admitted)."""
        submitted = await submit_message(
            self.db,
            Submission(self.id, session_id or await self.session(), "hi", priority=priority),
            admit=Budget(**budget) if budget else None,
        )
        return submitted.run.id, submitted.admitted

    async def running(self) -> int:
        async with self.db.read(ALL_STORES) as session:
            query = select(func.count()).where(
                RunRow.store_id == self.id, RunRow.status == "running"
            )
            return int((await session.execute(query)).scalar_one())


async def test_a_message_takes_a_slot_in_its_own_commit_while_the_store_has_room(
    db: Database,
) -> None:
    store = await Store(db).create()
    first, admitted_first = await store.send(limit=2, room=10)
    second, admitted_second = await store.send(limit=2, room=10)
    _, admitted_third = await store.send(limit=2, room=10)

    assert (admitted_first, admitted_second, admitted_third) == ([first], [second], [])
    assert await store.running() == 2
    _, admitted_busy = await store.send(limit=5, room=0)  # this worker has no room
    assert admitted_busy == []
    _, none_yet = await store.send()  # an API-only process admits nothing
    assert none_yet == [] and await store.running() == 2


async def test_an_ended_run_admits_the_next_session_heads_by_priority_then_age(
    db: Database,
) -> None:
    store = await Store(db).create()
    chat = await store.session()
    first, _ = await store.send(chat, limit=1, room=10)
    behind_first, _ = await store.send(chat, priority="high", limit=1, room=10)
    low, _ = await store.send(priority="low", limit=1, room=10)
    normal, _ = await store.send(limit=1, room=10)
    critical, _ = await store.send(priority="critical", limit=1, room=10)
    later_critical, _ = await store.send(priority="critical", limit=1, room=10)

    order = []
    ending = first
    for _ in range(5):
        ended = await lifecycle.finish(
            db, store.id, ending, "completed", stop_reason="final_answer", admit=Budget(1, 10)
        )
        assert ended is not None and len(ended.admitted) == 1
        [ending] = ended.admitted
        order.append(ending)

    # The second run of the first session waited behind it, then went by its priority.
    assert order == [critical, later_critical, behind_first, normal, low]


async def test_concurrent_admissions_never_pass_the_limit(db: Database) -> None:
    store = await Store(db).create()
    for _ in range(8):
        await store.send()  # queued by an API-only process: nothing admitted yet

    # PostgreSQL: all eight transactions begin before any admits, so their admissions overlap
    # (SQLite runs one write transaction at a time).
    begun = None if db.is_sqlite else asyncio.Barrier(8)

    async def admit_once() -> list[str]:
        async with db.write(ALL_STORES) as session:
            if begun is not None:
                await session.execute(select(1))
                await begun.wait()
            return await admit_in(session, store.id, Budget(limit=3, room=10))

    admitted = await asyncio.gather(*(admit_once() for _ in range(8)))

    assert sum(len(ids) for ids in admitted) == 3
    assert await store.running() == 3


async def test_runs_ending_while_messages_arrive_admit_without_deadlocks(db: Database) -> None:
    """Ending a run (store row updated, then admission) beside accepting a message (rows that
    reference the store inserted, then the store row updated): admission's lock on the store's
    row must not wait for the message's foreign-key share lock, or the two deadlock."""
    store = await Store(db).create()
    running = [(await store.send(limit=8, room=100))[0] for _ in range(8)]

    async def end(run_id: str) -> None:
        await lifecycle.finish(
            db, store.id, run_id, "completed", stop_reason="final_answer", admit=Budget(8, 100)
        )

    async def arrive() -> None:
        await store.send(limit=8, room=100)

    for _ in range(3):
        await asyncio.gather(*(end(r) for r in running), *(arrive() for _ in range(8)))
        async with db.read(ALL_STORES) as session:
            query = select(RunRow.id).where(RunRow.store_id == store.id, RunRow.status == "running")
            running = list((await session.execute(query)).scalars())
        assert len(running) == 8


async def test_an_append_marks_its_store_row_held_until_its_savepoint_rolls_back(
    db: Database,
) -> None:
    """Admission skips its own lock on the store's row in a transaction whose event append
    took it; a savepoint rolled back takes that append's lock (and the mark) with it."""
    store = await Store(db).create()
    other = await Store(db).create()
    async with db.write(ALL_STORES) as session:
        # a valid event: on PostgreSQL this is live_pg's database, whose events are audited
        await log.append(session, store.id, [NewEvent("session.deleted", {})])
        with contextlib.suppress(RuntimeError):
            async with log.savepoint(session):
                await log.append(session, other.id, [NewEvent("session.deleted", {})])
                raise RuntimeError("roll the savepoint back")
        assert log.holds_store_row(session, store.id)
        assert not log.holds_store_row(session, other.id)


async def test_a_message_queued_admitted_and_counted_runs_past_sqlalchemy(
    db: Database,
) -> None:
    """Accepting a message (its counter taken, its run queued and admitted) runs only prepared
    statements, on the sqlite3 driver or on psycopg: the admission of one run and the counter's
    upsert went through SQLAlchemy, about 200 µs of the loop each."""
    store = await Store(db).create()
    async with db.write(ALL_STORES) as session:
        row = await session.get(StoreRow, store.id)
        assert row is not None
        row.settings = {"runs_per_min": 100, "tokens_per_min": None}
    chat = await store.session()
    through_sqlalchemy: list[str] = []
    ours = make_url(db.url).database

    def seen(conn: Connection, cursor: object, statement: str, *args: object) -> None:
        if conn.engine.url.database == ours:  # not another test's DBOS, polling its own
            through_sqlalchemy.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        run, admitted = await store.send(chat, limit=2, room=10)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)

    assert admitted == [run]
    assert through_sqlalchemy == []
    async with db.read(ALL_STORES) as session:
        used = (
            (
                await session.execute(
                    select(UsageCounterRow.used).where(UsageCounterRow.store_id == store.id)
                )
            )
            .scalars()
            .all()
        )
    assert used == [1]
