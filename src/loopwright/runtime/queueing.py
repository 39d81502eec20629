"""The run queue: one DBOS queue partitioned by store (the store's concurrency limit), with run
priorities. A session's runs go one at a time and in order: only the oldest unfinished run of
a session is handed to the queue; finishing it hands over the next."""

from __future__ import annotations

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID
from sqlalchemy import bindparam, select

from loopwright.db.database import Database, core
from loopwright.db.tables import RunRow
from loopwright.domain.vocabulary import PRIORITY_VALUE, TERMINAL_RUN_STATUSES
from loopwright.settings import Settings

RUN_QUEUE = "loopwright-runs"


async def register(settings: Settings) -> None:
    await DBOS.register_queue_async(
        RUN_QUEUE,
        partition_concurrency=settings.store_concurrency,
        worker_concurrency=settings.worker_concurrency,
        polling_interval_sec=settings.queue_poll_s,
        on_conflict="always_update",
    )


class StoreSlots:
    """Runs this worker is executing per store. Below the store's limit a run starts at once,
    skipping the queue's polling delay; at the limit it waits in the (durable) queue."""

    def __init__(self, limit: int, enabled: bool) -> None:
        self.limit = limit
        self.enabled = enabled
        self._running: dict[str, int] = {}

    def try_take(self, store_id: str) -> bool:
        if not self.enabled or self._running.get(store_id, 0) >= self.limit:
            return False
        self._running[store_id] = self._running.get(store_id, 0) + 1
        return True

    def give_back(self, store_id: str) -> None:
        left = self._running.get(store_id, 0) - 1
        if left > 0:
            self._running[store_id] = left
        else:
            self._running.pop(store_id, None)


_HEAD = (
    select(RunRow.id, RunRow.status, RunRow.priority)
    .where(
        RunRow.store_id == bindparam("store"),
        RunRow.session_id == bindparam("session"),
        RunRow.status.not_in(sorted(TERMINAL_RUN_STATUSES)),
    )
    .order_by(RunRow.id)
    .limit(1)
)


async def enqueue_head(
    db: Database, store_id: str, session_id: str, slots: StoreSlots | None = None
) -> str | None:
    """Hand the session's oldest unfinished run to a worker if it waits; idempotent (the
    workflow id is the run id)."""
    async with db.read() as session:
        found = await core(session, _HEAD, {"store": store_id, "session": session_id})
        head = found.first()
    if head is None or head.status != "queued":
        return None
    run_id: str = head.id
    await hand_over(store_id, run_id, head.priority, slots)
    return run_id


async def hand_over(
    store_id: str, run_id: str, priority: str, slots: StoreSlots | None = None
) -> None:
    """Start a session's head run under a free store slot of this worker, or put it in the
    durable queue; idempotent (the workflow id is the run id)."""
    from loopwright.runtime.durable import run_workflow

    if slots is not None and slots.try_take(store_id):
        try:
            with SetWorkflowID(run_id):
                await DBOS.start_workflow_async(run_workflow, store_id, run_id, True)
        except BaseException:
            slots.give_back(store_id)
            raise
        return
    with (
        SetWorkflowID(run_id),
        SetEnqueueOptions(priority=PRIORITY_VALUE[priority], queue_partition_key=store_id),
    ):
        await DBOS.enqueue_workflow_async(RUN_QUEUE, run_workflow, store_id, run_id, False)


async def waiting_sessions(db: Database) -> list[tuple[str, str]]:
    """Sessions with a queued run, for the sweep that re-hands runs after a crash."""
    async with db.read() as session:
        rows = await session.execute(
            select(RunRow.store_id, RunRow.session_id).where(RunRow.status == "queued").distinct()
        )
    return [(store_id, session_id) for store_id, session_id in rows.all()]
