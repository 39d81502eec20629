"""Run state transitions, each committed with the event that announces it."""

from __future__ import annotations

import asyncio
from typing import Any

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


async def finish(
    db: Database,
    store_id: str,
    run_id: str,
    status: RunStatus,
    *,
    stop_reason: str,
    error: str | None = None,
    extra: dict[str, Any] | None = None,
) -> RunRow | None:
    """Move a run to a terminal status once; returns None if it already was terminal."""
    async with db.write() as session:
        run = await conversations.get_run(session, store_id, run_id)
        if run.status in TERMINAL_RUN_STATUSES:
            return None
        run.status = status
        run.stop_reason = stop_reason
        run.error = error
        run.finished_at = utcnow()
        payload: dict[str, Any] = {
            "status": status,
            "stop_reason": stop_reason,
            "usage": {"input_tokens": run.input_tokens, "output_tokens": run.output_tokens},
            **(extra or {}),
        }
        if error:
            payload["error"] = error
        await log.append(
            session,
            store_id,
            [NewEvent(_FINAL_EVENT[status], payload, session_id=run.session_id, run_id=run.id)],
        )
    return run


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
