"""Fencing on a real database: a worker declared dead cannot claim a run any more, and an
execution that lost its run to a newer one cannot commit a write for it, even one it was in
the middle of when the newer execution claimed the run (on PostgreSQL the claim waits for it,
and the newer execution then sees what it wrote). Executor ids are unique among live workers."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text, update

from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import EventRow, RunRow, WorkerRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import NewEvent
from loopwright.events import log
from loopwright.runtime import fencing, lifecycle
from loopwright.runtime.workers import ExecutorIdInUse, Workers
from loopwright.settings import Settings
from tests.test_admission import Store


def workers(db: Database, tmp_path: Path, executor_id: str) -> Workers:
    settings = Settings(data_dir=tmp_path, executor_id=executor_id, heartbeat_expiry_s=5)
    return Workers(settings, db, on_fenced=lambda: None)


async def expire(db: Database, executor_id: str) -> None:
    """The worker fell silent long ago (instead of waiting out its expiry)."""
    async with db.write(ALL_STORES) as session:
        await session.execute(
            update(WorkerRow)
            .where(WorkerRow.executor_id == executor_id)
            .values(heartbeat_at=utcnow() - timedelta(minutes=5))
        )


async def append(db: Database, store_id: str, run_id: str, marker: str) -> None:
    async with db.write(store_id) as session:
        await log.append(
            session,
            store_id,
            [NewEvent("analysis", {"route": "simple", "reason": marker}, run_id=run_id)],
        )


async def markers(db: Database, store_id: str) -> list[str]:
    async with db.read(store_id) as session:
        rows = await session.execute(
            select(EventRow.payload).where(
                EventRow.store_id == store_id, EventRow.type == "analysis"
            )
        )
        return [row.payload["reason"] for row in rows]


async def test_a_fenced_execution_cannot_claim_its_run_nor_write_for_it(
    db: Database, tmp_path: Path
) -> None:
    store = await Store(db).create()
    run_id, _ = await store.send()
    tag = uuid.uuid4().hex[:6]
    slow, live = workers(db, tmp_path, f"slow-{tag}"), workers(db, tmp_path, f"live-{tag}")
    await slow.register()
    await live.register()
    stale = fencing.Owner.new(slow.identity.executor_id, slow.identity.incarnation)
    assert await lifecycle.start(db, store.id, run_id, stale) is not None

    async def as_stale() -> None:  # the slow worker's execution, in a task of its own
        fencing.guard_writes(store.id, run_id, stale)
        await append(db, store.id, run_id, "stale")

    await asyncio.create_task(as_stale())  # it owns the run: its write commits
    await expire(db, slow.identity.executor_id)
    assert slow.identity.executor_id in await live.fence_dead()
    assert not await slow.beat()  # the slow worker learns it was declared dead

    # a new execution in the fenced worker cannot claim the run
    again = fencing.Owner.new(slow.identity.executor_id, slow.identity.incarnation)
    with pytest.raises(fencing.Fenced):
        await lifecycle.start(db, store.id, run_id, again)
    # the live worker's execution claims it; the stale one's next write fails, unwritten
    newer = fencing.Owner.new(live.identity.executor_id, live.identity.incarnation)
    assert await lifecycle.start(db, store.id, run_id, newer) is not None
    with pytest.raises(fencing.Fenced):
        await asyncio.create_task(as_stale())
    assert await markers(db, store.id) == ["stale"]


async def test_a_claim_waits_for_the_stale_step_in_flight_and_then_sees_it(
    quiet_pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL: the stale execution is in the middle of a step's transaction when the
    newer one claims the run; the claim waits for its commit (the run row's lock), so the
    newer execution finds the step's record."""
    await asyncio.to_thread(upgrade, quiet_pg_url)
    db = Database(quiet_pg_url)
    try:
        store = await Store(db).create()
        run_id, _ = await store.send()
        tag = uuid.uuid4().hex[:6]
        slow, live = workers(db, tmp_path, f"slow-{tag}"), workers(db, tmp_path, f"live-{tag}")
        await slow.register()
        await live.register()
        stale = fencing.Owner.new(slow.identity.executor_id, slow.identity.incarnation)
        assert await lifecycle.start(db, store.id, run_id, stale) is not None
        in_step, finish_step = asyncio.Event(), asyncio.Event()

        async def stale_step() -> None:
            fencing.guard_writes(store.id, run_id, stale)
            async with db.write(
                store.id
            ) as session:  # the guard checked the owner and holds the row
                await log.append(
                    session,
                    store.id,
                    [NewEvent("analysis", {"route": "simple", "reason": "mid"}, run_id=run_id)],
                )
                in_step.set()
                await finish_step.wait()

        step = asyncio.create_task(stale_step())
        await in_step.wait()
        await expire(db, slow.identity.executor_id)
        await live.fence_dead()
        newer = fencing.Owner.new(live.identity.executor_id, live.identity.incarnation)
        claim = asyncio.create_task(lifecycle.start(db, store.id, run_id, newer))
        await _until_a_backend_waits_for_a_lock(db)
        assert not claim.done()
        finish_step.set()
        await step  # committed: it ran before the claim
        assert await claim is not None
        assert await markers(db, store.id) == ["mid"]  # the newer execution sees the step
        async with db.read(store.id) as session:
            owner = await session.scalar(select(RunRow.owner).where(RunRow.id == run_id))
        assert owner == newer.token
    finally:
        await db.dispose()


async def _until_a_backend_waits_for_a_lock(db: Database) -> None:
    async with asyncio.timeout(10):
        while True:
            async with db.read(ALL_STORES) as session:
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(text("pg_stat_activity"))
                    .where(text("wait_event_type = 'Lock' AND datname = current_database()"))
                )
            if waiting:
                return
            await asyncio.sleep(0.01)  # polling pg_stat_activity for the waiting claim


async def test_an_executor_id_held_by_a_live_worker_is_refused(
    db: Database, tmp_path: Path
) -> None:
    executor_id = f"local-{uuid.uuid4().hex[:6]}"

    async def held_by(host: str, pid: int, beat_ago_s: float) -> None:
        async with db.write(ALL_STORES) as session:
            await session.execute(
                WorkerRow.__table__.delete().where(WorkerRow.executor_id == executor_id)
            )
            at = utcnow() - timedelta(seconds=beat_ago_s)
            await session.execute(
                insert(WorkerRow).values(
                    executor_id=executor_id,
                    incarnation="inc_other",
                    host=host,
                    pid=pid,
                    version="0",
                    application_version="loopwright-run-1",
                    started_at=at,
                    heartbeat_at=at,
                )
            )

    worker = workers(db, tmp_path, executor_id)
    await held_by("another-machine", 4242, 0)  # two machines left at the same id
    with pytest.raises(ExecutorIdInUse):
        await worker.register()
    await held_by(socket.gethostname(), os.getppid(), 0)  # another live process here
    with pytest.raises(ExecutorIdInUse):
        await worker.register()
    await held_by("another-machine", 4242, 60)  # expired: the slot is free
    await worker.register()
    await held_by(socket.gethostname(), _a_dead_pid(), 0)  # restarted after a crash here
    await worker.register()
    assert await worker.beat()


def _a_dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


async def test_a_silent_holder_of_the_recovery_lock_loses_it(
    quiet_pg_url: str, tmp_path: Path
) -> None:
    """A worker paused while it holds the recovery lock (its session open, idle in its
    transaction) keeps it only ``heartbeat_expiry_s``: then PostgreSQL ends its session and
    another worker recovers."""
    await asyncio.to_thread(upgrade, quiet_pg_url)
    paused_db, live_db = Database(quiet_pg_url), Database(quiet_pg_url)
    settings = Settings(data_dir=tmp_path, executor_id="paused", heartbeat_expiry_s=1)
    paused = Workers(settings, paused_db, on_fenced=lambda: None)
    live = Workers(settings.model_copy(update={"executor_id": "live"}), live_db, lambda: None)
    try:
        holding = paused._recovery_lock()
        assert await holding.__aenter__()  # and then nothing: the process stopped
        async with live._recovery_lock() as mine:
            assert not mine  # held
        got = False
        for _ in range(50):  # the holder's session ends ~1 s in
            await asyncio.sleep(0.1)
            async with live._recovery_lock() as mine:
                got = mine
            if got:
                break
        assert got
        with pytest.raises(Exception):  # noqa: B017,PT011 - its session is gone, whatever the driver says
            await holding.__aexit__(None, None, None)
    finally:
        await paused_db.dispose()
        await live_db.dispose()
