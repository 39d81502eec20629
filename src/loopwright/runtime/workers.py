"""Worker heartbeats and the recovery of dead workers' runs.

Every worker process (``serve`` with its worker, ``loopwright worker``, each ``--processes``
child) registers a ``workers`` row under its DBOS executor id before DBOS launches, and beats
every ``heartbeat_s``. Executor ids are unique among live workers: a worker refuses to start
while another process holds its id and beats (another machine left at the default
``local``, say); a restart of the same slot on the same machine takes the row over once the
process that held it is gone.

A worker silent for ``heartbeat_expiry_s`` is dead. Each live worker looks for dead ones after
each beat; one at a time (a PostgreSQL advisory lock; on SQLite, one machine, the fence's
exclusive write transaction decides) fences the dead rows (``fenced_at``: their runs' stale
executions can no longer claim a run, see ``fencing``), commits, then has DBOS recover the
pending workflows of every fenced executor (``DBOS._recover_pending_workflows``: they are
queued again and the first live worker to dequeue one runs it, its steps' records guarding
every step). Fenced rows stay until their executor id registers again, so a run a fenced
worker started before it noticed is recovered at the next beat too. A fenced worker that
comes back exits (``EXIT_FENCED``) as soon as it notices, at its next beat or at a write of
one of its runs (``fencing``), so its supervisor starts it afresh.
On PostgreSQL heartbeat times are the database's clock, so the machines' clocks need not
agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dbos import DBOS
from sqlalchemy import (
    ColumnElement,
    Interval,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

from loopwright import __version__
from loopwright.db.database import Database
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import WorkerRow
from loopwright.db.tables.base import UtcDateTime, utcnow
from loopwright.ids import new_id
from loopwright.settings import Settings

logger = logging.getLogger("loopwright.runtime")

STARTUP_GRACE = timedelta(seconds=30)
"""A worker registering owes its first beat this long after it (DBOS launching holds the loop)."""
RECOVERY_LOCK = 0x4C57_5245_4356  # "LWRECV": the PostgreSQL advisory lock of recovery


class ExecutorIdInUse(RuntimeError):
    """Another live worker holds this executor id."""


@dataclass(frozen=True, slots=True)
class Identity:
    executor_id: str
    incarnation: str


class Workers:
    def __init__(self, settings: Settings, db: Database, on_fenced: Callable[[], None]) -> None:
        self.settings = settings
        self.db = db
        self.identity = Identity(settings.process_executor_id, new_id("inc"))
        self._on_fenced = on_fenced
        self.recovering = False  # set once DBOS has launched: recovery goes through it
        self.recovered: list[str] = []  # executor ids whose runs this worker recovered

    def _now(self) -> ColumnElement[datetime]:
        """The database's clock on PostgreSQL (one clock for every machine); this machine's
        on SQLite (one machine)."""
        if self.db.is_sqlite:
            return literal(utcnow(), UtcDateTime())
        return func.now(type_=UtcDateTime())

    async def register(self) -> None:
        """Take this process's executor id, or raise ``ExecutorIdInUse``."""
        me = self.identity
        host = socket.gethostname()
        async with self.db.write(ALL_STORES) as session:
            held = (
                await session.execute(
                    select(
                        WorkerRow.host,
                        WorkerRow.pid,
                        WorkerRow.fenced_at,
                        (WorkerRow.heartbeat_at > self._expired_before()).label("fresh"),
                    )
                    .where(WorkerRow.executor_id == me.executor_id)
                    .with_for_update()
                )
            ).first()
            if held is not None and held.fenced_at is None and held.fresh:
                ours = held.pid == os.getpid()  # an earlier runtime of this process
                if held.host != host or (not ours and _alive(held.pid)):
                    raise ExecutorIdInUse(
                        f"executor id {me.executor_id!r} is held by a live worker (host"
                        f" {held.host}, pid {held.pid}): give each worker its own"
                        " LOOPWRIGHT_EXECUTOR_ID"
                    )
            await session.execute(delete(WorkerRow).where(WorkerRow.executor_id == me.executor_id))
            now = self._now()
            await session.execute(
                insert(WorkerRow).values(
                    executor_id=me.executor_id,
                    incarnation=me.incarnation,
                    host=host,
                    pid=os.getpid(),
                    version=__version__,
                    application_version=self.settings.dbos_application_version,
                    started_at=now,
                    # Launching DBOS holds the loop (and so the beats) for a while, longer
                    # than an expiry on a loaded machine: the first beat is owed later.
                    heartbeat_at=self._later(STARTUP_GRACE),
                )
            )

    def _later(self, by: timedelta) -> ColumnElement[datetime]:
        if self.db.is_sqlite:
            return literal(utcnow() + by, UtcDateTime())
        return func.now(type_=UtcDateTime()) + literal(by, Interval())

    def _expired_before(self) -> ColumnElement[datetime]:
        expiry = timedelta(seconds=self.settings.heartbeat_expiry_s)
        if self.db.is_sqlite:
            return literal(utcnow() - expiry, UtcDateTime())
        return func.now(type_=UtcDateTime()) - literal(expiry, Interval())

    async def run(self) -> None:
        """Beat, then recover dead workers' runs, every ``heartbeat_s``: from registration
        on, so a worker that takes long to launch DBOS is not taken for dead."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                if not await self.beat():
                    logger.error(
                        "this worker (%s) was declared dead by another: exiting",
                        self.identity.executor_id,
                    )
                    self._on_fenced()
                    return
                if self.recovering:
                    await self.recover_dead()
            except Exception:  # the heartbeat must outlive a bad moment of the database
                logger.exception("worker heartbeat failed")

    async def beat(self) -> bool:
        """Record that this worker lives; False if it was fenced (declared dead)."""
        me = self.identity
        async with self.db.write(ALL_STORES) as session:
            result = await session.execute(
                update(WorkerRow)
                .where(
                    WorkerRow.executor_id == me.executor_id,
                    WorkerRow.incarnation == me.incarnation,
                    WorkerRow.fenced_at.is_(None),
                )
                .values(heartbeat_at=self._now())
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def recover_dead(self) -> list[str]:
        """Fence the expired workers of this DBOS application version, and recover the pending
        runs of every fenced one (those it left, and any it started after it was fenced), if
        no other worker is doing it; the executor ids whose runs were recovered."""
        async with self._recovery_lock() as mine:
            if not mine:
                return []
            newly = await self.fence_dead()
            for executor_id in newly:
                logger.warning("worker %s stopped beating: recovering its runs", executor_id)
            fenced = await self._fenced()
            if not fenced:
                return []
            pending = await DBOS.list_workflows_async(
                status="PENDING", executor_id=fenced, load_input=False, load_output=False
            )
            left = sorted({w.executor_id for w in pending if w.executor_id})
            for executor_id in left:
                handles = await asyncio.to_thread(DBOS._recover_pending_workflows, [executor_id])
                logger.warning(
                    "worker %s is dead: %d of its runs recovered", executor_id, len(handles)
                )
                self.recovered.append(executor_id)
            return left

    async def _fenced(self) -> list[str]:
        """The fenced workers of this DBOS application version: kept (until their executor id
        registers again) so runs a fenced worker started before it noticed are recovered too."""
        async with self.db.read(ALL_STORES) as session:
            rows = await session.scalars(
                select(WorkerRow.executor_id).where(
                    WorkerRow.fenced_at.is_not(None),
                    WorkerRow.application_version == self.settings.dbos_application_version,
                )
            )
            return list(rows)

    async def fence_dead(self) -> list[str]:
        """Fence the expired workers of this DBOS application version, in a transaction of its
        own (committed before their runs are recovered, so their stale executions can no
        longer claim a run); the executor ids fenced."""
        async with self.db.write(ALL_STORES) as session:
            fenced = await session.execute(
                update(WorkerRow)
                .where(
                    WorkerRow.fenced_at.is_(None),
                    WorkerRow.heartbeat_at < self._expired_before(),
                    WorkerRow.application_version == self.settings.dbos_application_version,
                    WorkerRow.executor_id != self.identity.executor_id,
                )
                .values(fenced_at=self._now())
                .returning(WorkerRow.executor_id)
            )
            return list(fenced.scalars())

    @contextlib.asynccontextmanager
    async def _recovery_lock(self) -> AsyncIterator[bool]:
        """Whether this worker may recover now: it holds the advisory lock (PostgreSQL) for
        the whole recovery; on SQLite the fence's write transaction is exclusive.

        A holder that falls silent (paused, its machine stalled) must not keep every other
        worker from recovering: its transaction may sit idle only ``heartbeat_expiry_s``,
        after which PostgreSQL ends its session, and the lock with it."""
        if self.db.is_sqlite:
            yield True
            return
        idle_ms = max(1, round(self.settings.heartbeat_expiry_s * 1000))
        async with self.db.read(ALL_STORES) as session:
            got = bool(
                (
                    await session.execute(
                        text(
                            f"SELECT pg_try_advisory_lock({RECOVERY_LOCK}) FROM"
                            " set_config('idle_in_transaction_session_timeout', :idle, true)"
                        ),
                        {"idle": str(idle_ms)},
                    )
                ).scalar()
            )
            try:
                yield got
            finally:
                if got:
                    await session.execute(text(f"SELECT pg_advisory_unlock({RECOVERY_LOCK})"))

    async def leave(self) -> None:
        """A worker stopping: expire its row so a live worker fences it and recovers what it
        leaves pending at its next beat."""
        me = self.identity
        async with self.db.write(ALL_STORES) as session:
            await session.execute(
                update(WorkerRow)
                .where(
                    WorkerRow.executor_id == me.executor_id,
                    WorkerRow.incarnation == me.incarnation,
                )
                .values(heartbeat_at=literal(utcnow() - timedelta(days=1), UtcDateTime()))
            )


def _alive(pid: int) -> bool:
    """Whether a process of this machine with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
