"""The run queue: one DBOS queue partitioned by store (the store's concurrency limit), with run
priorities. A session's runs go one at a time and in order: only the oldest unfinished run of
a session is handed to the queue; finishing it hands over the next."""

from __future__ import annotations

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID
from sqlalchemy import select

from loopwright.db.database import Database
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


async def enqueue_head(db: Database, store_id: str, session_id: str) -> str | None:
    """Hand the session's oldest unfinished run to the queue if it waits; idempotent."""
    from loopwright.runtime.durable import run_workflow

    async with db.read() as session:
        head = await session.scalar(
            select(RunRow)
            .where(
                RunRow.store_id == store_id,
                RunRow.session_id == session_id,
                RunRow.status.not_in(sorted(TERMINAL_RUN_STATUSES)),
            )
            .order_by(RunRow.id)
            .limit(1)
        )
    if head is None or head.status != "queued":
        return None
    with (
        SetWorkflowID(head.id),
        SetEnqueueOptions(priority=PRIORITY_VALUE[head.priority], queue_partition_key=store_id),
    ):
        await DBOS.enqueue_workflow_async(RUN_QUEUE, run_workflow, store_id, head.id)
    return head.id


async def waiting_sessions(db: Database) -> list[tuple[str, str]]:
    """Sessions with a queued run, for the sweep that re-hands runs after a crash."""
    async with db.read() as session:
        rows = await session.execute(
            select(RunRow.store_id, RunRow.session_id).where(RunRow.status == "queued").distinct()
        )
    return [(store_id, session_id) for store_id, session_id in rows.all()]
