"""Run state transitions, each committed with the event that announces it."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import bindparam, update

from loopwright.db.database import Database
from loopwright.db.repos import conversations
from loopwright.db.tables import RunRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import EventFilter, EventType, NewEvent
from loopwright.domain.vocabulary import TERMINAL_RUN_STATUSES, RunStatus
from loopwright.events import log
from loopwright.events.hub import EventHub

_FINAL_EVENT: dict[str, EventType] = {
    "completed": "run.completed",
    "max_steps": "run.completed",
    "failed": "run.failed",
    "timed_out": "run.failed",
    "cancelled": "run.cancelled",
}
FINAL_EVENT_TYPES = frozenset(_FINAL_EVENT.values())


_FINISH = (
    update(RunRow)
    .where(
        RunRow.store_id == bindparam("store"),
        RunRow.id == bindparam("run"),
        RunRow.status.not_in(sorted(TERMINAL_RUN_STATUSES)),
    )
    .values(
        status=bindparam("new_status"),
        stop_reason=bindparam("new_reason"),
        error=bindparam("new_error"),
        finished_at=bindparam("now"),
    )
    .returning(RunRow.session_id, RunRow.input_tokens, RunRow.output_tokens)
)


async def finish(
    db: Database,
    store_id: str,
    run_id: str,
    status: RunStatus,
    *,
    stop_reason: str,
    error: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Move a run to a terminal status once; False if it already was terminal."""
    async with db.write() as session:
        connection = await session.connection()
        ended = await connection.execute(
            _FINISH,
            {
                "store": store_id,
                "run": run_id,
                "new_status": status,
                "new_reason": stop_reason,
                "new_error": error,
                "now": utcnow(),
            },
        )
        row = ended.first()
        if row is None:
            await conversations.get_run(session, store_id, run_id)  # NotFound if missing
            return False
        payload: dict[str, Any] = {
            "status": status,
            "stop_reason": stop_reason,
            "usage": {"input_tokens": row.input_tokens, "output_tokens": row.output_tokens},
            **(extra or {}),
        }
        if error:
            payload["error"] = error
        await log.append(
            session,
            store_id,
            [NewEvent(_FINAL_EVENT[status], payload, session_id=row.session_id, run_id=run_id)],
        )
    return True


async def wait_terminal(
    db: Database, hub: EventHub, store_id: str, run_id: str, *, timeout_s: float, poll_s: float
) -> RunRow:
    """The run once it is terminal, or as it stands when ``timeout_s`` runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    with hub.subscribe(store_id, EventFilter(run_id=run_id, types=FINAL_EVENT_TYPES)) as sub:
        while True:
            async with db.read() as session:
                run = await conversations.get_run(session, store_id, run_id)
            remaining = deadline - loop.time()
            if run.status in TERMINAL_RUN_STATUSES or remaining <= 0:
                return run
            try:
                async with asyncio.timeout(min(remaining, poll_s)):
                    await sub.queue.get()
            except TimeoutError:
                pass
