"""Schedules fire here: every worker process runs ``Scheduler``, and each due time fires
exactly once across all of them and across crashes.

A fire is one transaction through ``Runtime.submit``: it moves the schedule past the due
time only if it is still there (compare and set), inserts the fire row unique by
``(schedule_id, due_at)``, commits the message and its queued run, and records the run on
the fire. Another process that woke for the same due time matches nothing and stops; a
process killed before the commit leaves the schedule at the due time, so the next process
(or itself, restarted) fires it; killed after, the run is queued and the run sweep starts it.
A due time found more than ``schedule_grace_s`` late was missed (the servers were down):
``skip`` records it skipped, ``run_once`` fires it once for all the missed ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import Database
from loopwright.db.repos import schedules
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import ScheduleFireRow, ScheduleRow
from loopwright.db.tables.base import utcnow
from loopwright.errors import LoopwrightError
from loopwright.runtime import cron, failpoints
from loopwright.runtime.submit import Prepare, Submission, Submit, Submitted
from loopwright.runtime.trigger_sessions import session_for

logger = logging.getLogger("loopwright.schedules")
OVERDUE_RETRY_S = 0.1


class _Claimed(Exception):
    """Another process fired this due time (or the schedule changed meanwhile)."""


class Scheduler:
    def __init__(self, submit: Submit, db: Database, *, poll_s: float, grace_s: float):
        self.submit = submit
        self.db = db
        self.poll_s = poll_s
        self.grace_s = grace_s
        self._changed = asyncio.Event()

    def changed(self) -> None:
        """A schedule of this process changed: look again now, not at the next poll."""
        self._changed.set()

    async def run(self) -> None:
        while True:
            try:
                await self.fire_due()
                async with self.db.read(ALL_STORES) as session:
                    earliest = await schedules.earliest(session)
            except Exception:  # the loop must outlive a bad moment of the database
                logger.exception("schedule loop failed")
                earliest = None
            wait = self.poll_s
            if earliest is not None:
                # still due after firing (more than one batch, or a fire that failed): look
                # again soon, but never spin on a schedule that keeps failing
                until = (earliest - utcnow()).total_seconds()
                wait = min(wait, until if until > 0 else OVERDUE_RETRY_S)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)

    async def fire_due(self) -> None:
        now = utcnow()
        async with self.db.read(ALL_STORES) as session:
            found = await schedules.due(session, now)
        if found:
            # concurrently: one slow fire (a busy store, a long transaction) delays no other
            await asyncio.gather(*(self._fire_logged(s, i) for s, i in found))

    async def _fire_logged(self, store_id: str, schedule_id: str) -> None:
        try:
            await self.fire(store_id, schedule_id)
        except Exception:
            logger.exception("schedule %s failed to fire", schedule_id)

    async def fire(self, store_id: str, schedule_id: str) -> str | None:
        """Fire the schedule's current due time if no one did; the run id, or None."""
        async with self.db.read(store_id) as session:
            row = await schedules.get(session, store_id, schedule_id)
        due_at = row.next_due_at
        if not row.enabled or due_at is None:
            return None
        now = utcnow()
        following = cron.next_after(row.cron, row.timezone, max(due_at, now))
        missed = (now - due_at).total_seconds() > self.grace_s
        if missed and row.missed_policy == "skip":
            await self._end_without_run(row, due_at, following, now, "skipped", None)
            return None

        async def prepare(session: AsyncSession) -> Submission:
            chat = await session_for(
                session,
                store_id,
                row.agent_id,
                policy=row.session_policy,
                reused=row.session_id,
                title=f"schedule {row.id} at {due_at.isoformat()}",
            )
            claimed = await schedules.advance(
                session,
                store_id,
                schedule_id,
                due_at=due_at,
                next_due_at=following,
                fired_at=now,
                session_id=chat if row.session_policy == "reuse" else None,
            )
            if not claimed:
                raise _Claimed
            await schedules.add_fire(
                session,
                store_id,
                schedule_id=schedule_id,
                due_at=due_at,
                fired_at=now,
                status="started",
                session_id=chat,
            )
            return Submission(store_id, chat, row.message, trigger="schedule")

        async def record(session: AsyncSession, submitted: Submitted) -> None:
            await session.execute(
                update(ScheduleFireRow)
                .where(
                    ScheduleFireRow.schedule_id == schedule_id,
                    ScheduleFireRow.due_at == due_at,
                )
                .values(run_id=submitted.run.id)
                .execution_options(synchronize_session=False)
            )
            failpoints.hit("schedule_fire")  # killed with the fire not yet committed

        try:
            submitted = await self.submit(Prepare(store_id, prepare), record=record)
        except (_Claimed, IntegrityError):
            return None
        except LoopwrightError as exc:  # the agent is disabled, or gone: recorded, not retried
            await self._end_without_run(row, due_at, following, now, "failed", exc.message)
            return None
        return submitted.run.id

    async def _end_without_run(
        self,
        row: ScheduleRow,
        due_at: datetime,
        following: datetime | None,
        now: datetime,
        status: str,
        error: str | None,
    ) -> None:
        try:
            async with self.db.write(row.store_id) as session:
                if not await schedules.advance(
                    session,
                    row.store_id,
                    row.id,
                    due_at=due_at,
                    next_due_at=following,
                    fired_at=now,
                ):
                    return
                await schedules.add_fire(
                    session,
                    row.store_id,
                    schedule_id=row.id,
                    due_at=due_at,
                    fired_at=now,
                    status=status,
                    error=error,
                )
        except IntegrityError:
            return


def first_due(row_cron: str, timezone: str) -> datetime | None:
    """A new or resumed schedule's first due time: the next one from now."""
    return cron.next_after(row_cron, timezone, utcnow())
