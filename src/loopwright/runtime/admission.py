"""Store-wide admission of queued runs: the store's concurrency limit and run priorities.

A run holds one of its store's ``store_concurrency`` slots from admission (``queued`` →
``running``, ``started_at`` set) until it ends. Admission is one write transaction that locks
the store's row (on SQLite the write transaction itself is the lock) and counts the store's
running runs, so the limit holds across every process and machine sharing the database. It
admits waiting session heads (a session's runs go one at a time and in order: only its oldest
unfinished run may start), highest priority first, then oldest; the admitting worker starts
them as DBOS workflows at once, with no queue polling in between.

Admission runs when a message is accepted, when a run ends or is cancelled (whichever process
ends it admits the next), and on a sweep every ``sweep_s``. The sweep also looks for runs that
hold a slot with nothing running them (``stranded``): it starts the workflow of a run admitted
by a process that died before starting it (starting a workflow whose id exists runs nothing
twice), and fails a run whose workflow ended without ending it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from dbos import DBOS
from sqlalchemy import (
    ColumnElement,
    Integer,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from loopwright.db.database import Database, core, core_later, has_row_locks
from loopwright.db.prepared import prepare
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import RunRow, StoreRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.vocabulary import PRIORITY_VALUE, TERMINAL_RUN_STATUSES
from loopwright.events import log
from loopwright.runtime import failpoints

logger = logging.getLogger("loopwright.runtime")

StartRun = Callable[[str, str], Awaitable[None]]
"""Start a run's workflow: ``(store_id, run_id)``."""

_earlier = aliased(RunRow)
# FOR NO KEY UPDATE: the lock an event append's update of the row takes too. Plain FOR UPDATE
# would also wait for the share locks that inserting a row referencing the store takes (a
# message being accepted), while that message's own event append waits for this: a deadlock.
_LOCK_STORE = (
    select(StoreRow.id).where(StoreRow.id == bindparam("store")).with_for_update(key_share=True)
)
_RUNNING = (
    select(func.count())
    .select_from(RunRow)
    .where(RunRow.store_id == bindparam("store"), RunRow.status == "running")
)
# As many as the store's free slots and the worker's room allow, counted in the same statement
# (one round trip on PostgreSQL).
_FREE: ColumnElement[int] = bindparam("limit", type_=Integer) - _RUNNING.scalar_subquery()
_TAKE = case((_FREE <= 0, 0), (bindparam("room") > _FREE, _FREE), else_=bindparam("room"))
# Locked as they are picked (PostgreSQL), skipping one a cancel holds: that cancel waits for
# the store's row, which this transaction holds. (NO KEY, as above: rows referencing a run do
# not hold it back.)
_WAITING_HEADS = prepare(
    select(RunRow.id)
    .where(
        RunRow.store_id == bindparam("store"),
        RunRow.status == "queued",
        or_(RunRow.not_before.is_(None), RunRow.not_before <= bindparam("now")),
        ~exists().where(
            _earlier.store_id == RunRow.store_id,
            _earlier.session_id == RunRow.session_id,
            _earlier.id < RunRow.id,
            _earlier.status.not_in(sorted(TERMINAL_RUN_STATUSES)),
        ),
    )
    .order_by(case(PRIORITY_VALUE, value=RunRow.priority, else_=len(PRIORITY_VALUE)), RunRow.id)
    .limit(_TAKE)
    .with_for_update(of=RunRow, skip_locked=True, key_share=True)
)
_START_QUEUED = (
    update(RunRow)
    .where(RunRow.store_id == bindparam("store"), RunRow.status == "queued")
    .values(status="running", started_at=bindparam("now"))
)
_ADMIT = _START_QUEUED.where(RunRow.id.in_(bindparam("ids", expanding=True)))
# The usual admission, one run: a prepared statement (an expanding IN list is not).
_ADMIT_ONE = prepare(_START_QUEUED.where(RunRow.id == bindparam("run")))
_STORES_WAITING = select(RunRow.store_id).where(RunRow.status == "queued").distinct()
# SQLite keeps no table statistics unless ANALYZE ran: without them it reads the whole
# (store_id, status) index rather than the partial one that holds only the queued runs.
_STORES_WAITING_SQLITE = text(
    "SELECT DISTINCT store_id FROM runs INDEXED BY ix_runs_queued WHERE status = 'queued'"
)
_RUNNING_SINCE = select(RunRow.store_id, RunRow.id).where(
    RunRow.status == "running", RunRow.started_at < bindparam("before")
)
# DBOS statuses of a workflow still to run or running.
_LIVE_WORKFLOW = frozenset({"PENDING", "ENQUEUED", "DELAYED"})


@dataclass(frozen=True, slots=True)
class Budget:
    """What an admission may fill: the store's limit, and how many more runs the admitting
    worker takes on (it starts what it admits)."""

    limit: int
    room: int


async def admit_in(session: AsyncSession, store_id: str, budget: Budget) -> list[str]:
    """Admit the store's waiting runs that ``budget`` has room for, in the caller's write
    transaction (one that ends a run or queues one admits in the same commit); their ids,
    to start once it commits. A transaction that appended to the store's log holds the lock
    admission needs already."""
    if budget.room <= 0:
        return []
    if has_row_locks(session) and not log.holds_store_row(session, store_id):
        await core(session, _LOCK_STORE, {"store": store_id})
    now = utcnow()
    params = {"store": store_id, "limit": budget.limit, "room": budget.room, "now": now}
    ids = list((await core(session, _WAITING_HEADS, params)).scalars())
    if len(ids) == 1:  # with the commit, on PostgreSQL: one round trip less under the lock
        await core_later(session, _ADMIT_ONE, {"store": store_id, "run": ids[0], "now": now})
    elif ids:
        await core(session, _ADMIT, {"store": store_id, "ids": ids, "now": now})
    return ids


async def stores_waiting(db: Database) -> list[str]:
    query = _STORES_WAITING_SQLITE if db.is_sqlite else _STORES_WAITING
    async with db.read(ALL_STORES) as session:
        return list((await core(session, query)).scalars())


@dataclass(frozen=True, slots=True)
class Stranded:
    """Runs holding a slot that nothing runs (each ``(store_id, run_id)``)."""

    unstarted: list[tuple[str, str]]
    """Admitted by a process that died before starting the workflow: start it."""
    abandoned: list[tuple[str, str, str]]
    """The workflow ended (its DBOS status is the third item: a defect, or the database
    failing under it) without ending the run: end the run, or its slot is never freed."""


async def stranded(db: Database, before: datetime) -> Stranded:
    """Running runs admitted before ``before`` whose workflow is missing or has ended."""
    async with db.read(ALL_STORES) as session:
        running = [
            (row.store_id, row.id)
            for row in await core(session, _RUNNING_SINCE, {"before": before})
        ]
    statuses = await _workflow_statuses([run_id for _, run_id in running]) if running else {}
    unstarted, abandoned = [], []
    for store_id, run_id in running:
        status = statuses.get(run_id)
        if status is None:
            unstarted.append((store_id, run_id))
        elif status not in _LIVE_WORKFLOW:
            abandoned.append((store_id, run_id, status))
    return Stranded(unstarted, abandoned)


async def _workflow_statuses(run_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for at in range(0, len(run_ids), 500):
        workflows = await DBOS.list_workflows_async(
            workflow_ids=list(run_ids[at : at + 500]), load_input=False, load_output=False
        )
        found.update((w.workflow_id, w.status) for w in workflows)
    return found


class Admitter:
    """Admits runs for this worker and starts them; ``running`` counts the runs it executes
    (at ``worker_limit`` it admits none, and a run ending here makes room)."""

    def __init__(self, db: Database, start: StartRun, *, limit: int, worker_limit: int) -> None:
        self._db = db
        self._start = start
        self.limit = limit
        self.worker_limit = worker_limit
        self.running = 0
        self._detached: set[asyncio.Task[None]] = set()

    def budget(self) -> Budget:
        return Budget(self.limit, self.worker_limit - self.running)

    async def admit(self, store_id: str) -> None:
        """Admit in a transaction of its own (the sweep's, for what a crash left waiting),
        then start what was admitted."""
        async with self._db.write(store_id) as session:
            admitted = await admit_in(session, store_id, self.budget())
        await self.start_all(store_id, admitted)

    def start_detached(self, store_id: str, run_ids: Sequence[str]) -> None:
        """Start admitted runs in a task outside the caller's context: from inside a run's
        workflow, DBOS would make a workflow started in its context that run's child (waited
        for, and cancelled with it). The sweep starts them if this process dies first."""
        if not run_ids:
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(
            self.start_all(store_id, list(run_ids)), context=contextvars.Context()
        )
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    async def start_all(self, store_id: str, run_ids: Sequence[str]) -> None:
        if run_ids:
            failpoints.hit("after_admit")
        for run_id in run_ids:
            await self.start(store_id, run_id)

    async def start(self, store_id: str, run_id: str) -> None:
        """Start an admitted run's workflow; if that fails, the sweep starts it later."""
        try:
            await self._start(store_id, run_id)
        except Exception:
            logger.exception("starting run %s failed; the sweep retries", run_id)
