"""The unit of work on both databases: commit publishes, a failure rolls back and publishes
nothing, a savepoint undoes only its own writes, Core statements join the transaction.

SQLite runs through ``InlineSession`` (the AsyncSession API over a synchronous session),
PostgreSQL through the real AsyncSession: the same assertions hold for both."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import func, select, text

from loopwright.db import database
from loopwright.db.database import Database, core
from loopwright.db.migrate import upgrade
from loopwright.db.repos import tenancy, workspace
from loopwright.db.row_security import ALL_STORES
from loopwright.db.sqlite_checkpoint import checkpoint
from loopwright.db.tables import EventRow, ProjectRow
from loopwright.domain.events import Event, EventFilter, NewEvent
from loopwright.errors import Conflict, NotFound
from loopwright.events import log


async def new_store(db: Database) -> str:
    store_id = f"db{uuid.uuid4().hex[:8]}"
    async with db.write(ALL_STORES) as session:
        await tenancy.create_store(session, store_id, store_id)
    return store_id


def recorder(db: Database) -> list[list[Event]]:
    published: list[list[Event]] = []

    def hook(events: Sequence[Event]) -> None:
        published.append(list(events))

    db.on_commit(hook)
    return published


async def count(db: Database, store_id: str, row: type[ProjectRow] | type[EventRow]) -> int:
    async with db.read(ALL_STORES) as session:
        found = await session.scalar(
            select(func.count()).select_from(row).where(row.store_id == store_id)
        )
    return int(found or 0)


async def test_a_commit_publishes_its_events_after_the_block(db: Database) -> None:
    store_id = await new_store(db)
    published = recorder(db)
    async with db.write(ALL_STORES) as session:
        # a valid event: on PostgreSQL this is live_pg's database, whose events are audited
        appended = await log.append(session, store_id, [NewEvent("session.deleted", {})])
        assert published == []  # not before the commit
    assert published == [appended]
    assert await count(db, store_id, EventRow) == 1


async def test_a_failed_block_rolls_back_and_publishes_nothing(db: Database) -> None:
    store_id = await new_store(db)
    published = recorder(db)

    async def write_then_fail() -> None:
        async with db.write(ALL_STORES) as session:
            await workspace.create_project(session, store_id, name="Home")
            await log.append(session, store_id, [NewEvent("note.added", {})])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    assert published == []
    assert await count(db, store_id, ProjectRow) == 0
    assert await count(db, store_id, EventRow) == 0
    async with db.read(ALL_STORES) as session:  # the store's seq did not move either
        assert await log.high_water(session, store_id) == 0


async def test_a_savepoint_undoes_only_its_own_writes(db: Database) -> None:
    store_id = await new_store(db)
    async with db.write(ALL_STORES) as session:
        await workspace.create_project(session, store_id, name="Home")
        with pytest.raises(Conflict):
            await workspace.create_project(session, store_id, name="home")
        await workspace.create_project(session, store_id, name="Work")
    async with db.read(ALL_STORES) as session:
        names = await session.scalars(
            select(ProjectRow.name).where(ProjectRow.store_id == store_id)
        )
        assert sorted(names) == ["Home", "Work"]


async def test_core_statements_join_the_transaction(db: Database) -> None:
    store_id = await new_store(db)
    bump = log._BUMP_SEQ

    async def bump_then_fail() -> None:
        async with db.write(ALL_STORES) as session:
            result = await core(session, bump, {"store": store_id, "count": 5})
            assert result.scalar_one() == 5
            raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        await bump_then_fail()
    async with db.write(ALL_STORES) as session:
        result = await core(session, bump, {"store": store_id, "count": 1})
        assert result.scalar_one() == 1


async def test_sqlite_commits_leave_checkpoints_to_the_checkpoint_thread(tmp_path: Path) -> None:
    """No commit on the loop copies the WAL back (``wal_autocheckpoint=0``); the thread's
    passive checkpoint does, and the WAL is truncated to its size limit afterwards."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    db._checkpointer.stop()  # checkpoint by hand below, not on the thread's clock
    try:
        store_id = await new_store(db)
        for n in range(300):  # well past SQLite's default autocheckpoint of 1000 pages
            async with db.write(ALL_STORES) as session:
                await log.append(
                    session, store_id, [NewEvent("note.added", {"n": n, "pad": "x" * 2000})]
                )
        async with db.write(ALL_STORES) as session:
            pragma = await session.execute(text("PRAGMA wal_autocheckpoint"))
            assert pragma.scalar() == 0
        other = sqlite3.connect(tmp_path / "app.db")
        try:
            frames, copied = checkpoint(other)
            assert frames > 1000  # nothing copied back during the commits
            assert copied == frames
        finally:
            other.close()
    finally:
        await db.dispose()


async def test_sqlite_sessions_point_async_connection_users_to_core(tmp_path: Path) -> None:
    """``InlineSession`` has no async connection to hand out: a clear error, not a hang in a
    greenlet, and ``core()`` is the way in."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        async with db.read(ALL_STORES) as session:
            with pytest.raises(TypeError, match="core"):
                await session.connection()
            assert (await core(session, text("SELECT 41 + 1"))).scalar() == 42
    finally:
        await db.dispose()


async def test_deferred_events_go_out_with_the_next_append(db: Database) -> None:
    """``log.defer``: the deferred event takes the first seq of the next append's batch, one
    bump of the store's seq for both, published together."""
    store_id = await new_store(db)
    published = recorder(db)
    async with db.write(store_id) as session:
        await log.defer(session, store_id, [NewEvent("session.deleted", {}, session_id="first")])
        # on PostgreSQL at once: the append takes the store row's lock where it always did
        assert log.holds_store_row(session, store_id) == (not db.is_sqlite)
        appended = await log.append(session, store_id, [NewEvent("session.deleted", {})])
    if db.is_sqlite:
        assert [(e.seq, e.session_id) for e in appended] == [(1, "first"), (2, None)]
        assert published == [appended]
    else:
        assert [(e.seq, e.session_id) for batch in published for e in batch] == [
            (1, "first"),
            (2, None),
        ]
    assert await count(db, store_id, EventRow) == 2


async def test_a_deferred_event_outlives_a_savepoint_that_rolls_back(db: Database) -> None:
    """An append inside a savepoint takes the deferred event with it; if the savepoint rolls
    back, the event is deferred again and the flush writes it."""
    store_id = await new_store(db)
    published = recorder(db)
    async with db.write(store_id) as session:
        await log.defer(session, store_id, [NewEvent("session.deleted", {}, session_id="kept")])

        async def append_then_undo() -> None:
            async with log.savepoint(session):
                await log.append(session, store_id, [NewEvent("session.deleted", {})])
                raise RuntimeError("undo")

        with pytest.raises(RuntimeError):
            await append_then_undo()
        await log.flush(session)
    assert [(e.seq, e.session_id) for batch in published for e in batch] == [(1, "kept")]
    assert await count(db, store_id, EventRow) == 1


async def test_a_transaction_left_holding_deferred_events_rolls_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        await _left_holding_deferred_events(db)
    finally:
        await db.dispose()


async def _left_holding_deferred_events(db: Database) -> None:
    store_id = await new_store(db)

    async def forget_to_flush() -> None:
        async with db.write(store_id) as session:
            await workspace.create_project(session, store_id, name="Home")
            await log.defer(session, store_id, [NewEvent("session.deleted", {})])

    with pytest.raises(RuntimeError, match="deferred"):
        await forget_to_flush()
    assert await count(db, store_id, ProjectRow) == 0


async def test_a_read_only_tool_that_fails_leaves_the_transaction_usable(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only built-in runs without a savepoint where a failed statement spoils nothing
    (SQLite), with one where it spoils the transaction (PostgreSQL): either way its failure
    is an error result and the step's transaction goes on to commit."""
    from loopwright.runtime.workspace import SessionWorkspace
    from loopwright.tools.builtin import BUILTIN_TOOLS
    from loopwright.tools.builtin_handlers import HANDLERS, invoke
    from loopwright.tools.workspace_port import ToolContext, WorkspacePort

    store_id = await new_store(db)
    savepoints: list[str] = []
    taken = log.savepoint

    def counted(session: object) -> object:
        savepoints.append("taken")
        return taken(session)  # type: ignore[arg-type]

    monkeypatch.setattr(log, "savepoint", counted)
    session_ref: list[object] = []

    async def reads_a_missing_table(port: WorkspacePort, args: object) -> object:
        await session_ref[0].execute(text("SELECT * FROM no_such_table"))  # type: ignore[attr-defined]
        raise AssertionError("unreachable")

    monkeypatch.setitem(HANDLERS, "list_projects", reads_a_missing_table)
    args = BUILTIN_TOOLS["list_projects"].validate({})
    ctx = ToolContext(store_id=store_id, run_id="run_1", session_id="ses_1", agent_id="agt_1")
    async with db.write(ALL_STORES) as session:
        session_ref.append(session)
        ok, content = await invoke(
            SessionWorkspace(session, ctx), "list_projects", args, timeout_s=5, read_only=True
        )
        await log.append(session, store_id, [NewEvent("note.added", {})])
    assert ok is False and "no_such_table" in content["error"]
    assert savepoints == ([] if db.url.startswith("sqlite") else ["taken"])
    assert await count(db, store_id, EventRow) == 1


async def test_a_connection_beyond_the_pools_size_is_closed_when_given_back(
    quiet_pg_url: str,
) -> None:
    """On PostgreSQL a unit gives its connection back itself (``PgSession.release``); one
    opened beyond the pool's size is closed then, which psycopg awaits: it once failed
    outside SQLAlchemy's greenlet, and the connection stayed open."""
    await asyncio.to_thread(upgrade, quiet_pg_url)
    db = Database(quiet_pg_url, pool_size=1)  # and as many again beyond it
    both_open = asyncio.Barrier(2)
    drivers = []

    async def unit() -> None:
        async with db.read(ALL_STORES) as session:
            await session.execute(text("SELECT 1"))
            drivers.append(await database._driver(session))
            await both_open.wait()

    try:
        await asyncio.gather(unit(), unit())
        assert sorted(driver.closed for driver in drivers) == [False, True]
    finally:
        await db.dispose()


async def test_a_units_connection_is_freed_once_the_pool_lets_it_go(quiet_pg_url: str) -> None:
    """Nothing keeps a PostgreSQL connection alive past its pool (a cache of a cursor per
    connection once did: the cursor held its connection)."""
    await asyncio.to_thread(upgrade, quiet_pg_url)
    db = Database(quiet_pg_url)
    try:
        async with db.read(ALL_STORES) as session:
            await core(session, log._HIGH_WATER, {"store": "none"})  # rides with the BEGIN
            driver = weakref.ref(await database._driver(session))
        del session
    finally:
        await db.dispose()
    gc.collect()
    assert driver() is None


async def test_a_unit_cancelled_midway_leaves_no_transaction_behind(quiet_pg_url: str) -> None:
    """A PostgreSQL unit whose task is cancelled while it talks to the server (a client gone,
    a run cancelled) gives its connection back idle or not at all: the next units on the
    pool begin afresh, in their own scope. (Its SQLAlchemy connection, interrupted, discards
    the pooled one itself; discarding it again once warned.)"""
    await asyncio.to_thread(upgrade, quiet_pg_url)
    db = Database(quiet_pg_url, pool_size=1)
    store_id = await new_store(db)
    drivers: list[Any] = []

    async def sleeping() -> None:
        async with db.write(store_id) as session:
            drivers.append(await database._driver(session))
            await session.execute(text("SELECT pg_sleep(30)"))

    try:
        task = asyncio.ensure_future(sleeping())
        for _ in range(100_000):  # until the statement runs on the server (no timed wait)
            if drivers and drivers[0].pgconn.transaction_status == TransactionStatus.ACTIVE:
                break
            await asyncio.sleep(0)
        assert drivers[0].pgconn.transaction_status == TransactionStatus.ACTIVE
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(3):
            async with db.read(store_id) as session:
                setting = await session.execute(text("SELECT current_setting('app.store_id')"))
                assert setting.scalar_one() == store_id
    finally:
        await db.dispose()


async def test_a_page_of_the_log_comes_with_its_high_water_in_one_statement(db: Database) -> None:
    """``read_to_high_water``: the filter's events after the cursor, up to the store's
    high-water, which comes with them (with no event at all too); a store that is gone is
    ``NotFound``."""
    store_id = await new_store(db)
    async with db.write(ALL_STORES) as session:
        await log.append(
            session,
            store_id,
            [NewEvent("note.added", {"n": n}, session_id=s) for n, s in enumerate("aba")],
        )
    mine = EventFilter(session_id="a", types=frozenset({"note.added"}))
    async with db.read(store_id) as session:
        events, upto = await log.read_to_high_water(session, store_id, 0, mine, 10)
        assert [(e.seq, e.payload) for e in events] == [(1, {"n": 0}), (3, {"n": 2})]
        assert upto == 3
        assert await log.read_to_high_water(session, store_id, 0, mine, 1) == (events[:1], 3)
        assert await log.read_to_high_water(session, store_id, 3, EventFilter(), 10) == ([], 3)
        others = EventFilter(session_id="c")
        assert await log.read_to_high_water(session, store_id, 0, others, 10) == ([], 3)
    async with db.read(ALL_STORES) as session:
        with pytest.raises(NotFound):
            await log.read_to_high_water(session, f"gone-{uuid.uuid4().hex[:6]}", 0, mine, 10)
