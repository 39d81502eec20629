"""The runtime facade the server talks to: enqueue, cancel and wait for runs."""

from __future__ import annotations

import contextlib

from loopwright.db.database import Database
from loopwright.db.repos import conversations
from loopwright.db.tables import RunRow
from loopwright.errors import NotFound
from loopwright.events.hub import EventHub
from loopwright.runtime import lifecycle
from loopwright.settings import Settings


class Runtime:
    def __init__(self, settings: Settings, db: Database, hub: EventHub) -> None:
        self.settings = settings
        self.db = db
        self.hub = hub

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def enqueue(self, run: RunRow) -> None:
        """Hand a committed, queued run to the workers."""
        return None

    async def cancel(self, store_id: str, run_id: str) -> RunRow:
        await lifecycle.finish(self.db, store_id, run_id, "cancelled", stop_reason="cancelled")
        async with self.db.read() as session:
            return await conversations.get_run(session, store_id, run_id)

    async def cancel_many(self, store_id: str, run_ids: list[str]) -> None:
        for run_id in run_ids:
            with contextlib.suppress(NotFound):
                await self.cancel(store_id, run_id)

    async def wait(self, store_id: str, run_id: str, *, timeout_s: float) -> RunRow:
        return await lifecycle.wait_terminal(
            self.db,
            self.hub,
            store_id,
            run_id,
            timeout_s=timeout_s,
            poll_s=self.settings.event_poll_s,
        )
