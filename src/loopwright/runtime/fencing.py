"""Fencing: only the newest execution of a run's workflow writes for the run.

A worker that was only slow (stopped, paused, cut off) past its heartbeat's expiry is declared
dead, and a live worker recovers its runs through DBOS: the run's workflow executes again
elsewhere while the old execution may still be in the slow worker, maybe in the middle of a
step. Each execution has its own token (``Owner``). Its start claims the run
(``runs.owner = token``) in the transaction that starts or resumes it, and only while its
worker's row is not fenced; every later write transaction of the execution first locks the
run's row and checks the token is still the owner (``Database.write`` runs the guard set here),
so the commit that records a step fails for a stale execution with ``Fenced``. The lock orders
a stale commit against the claim of the execution that replaces it: the stale step commits
before the claim (the replay finds its record and acts no more) or fails after it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import WRITE_GUARD, core, core_later
from loopwright.db.prepared import prepare
from loopwright.db.tables import RunRow, WorkerRow
from loopwright.errors import NotFound
from loopwright.ids import new_id

EXIT_FENCED = 75
"""The exit status of a worker that found itself declared dead (EX_TEMPFAIL: start it again)."""


class Fenced(BaseException):
    """This execution lost its run to a newer one: it stops without writing. A
    ``BaseException`` so no ``except Exception`` on the way (a tool's, the engine's) turns it
    into a failed step."""


@dataclass(frozen=True, slots=True)
class Owner:
    """One execution of a run's workflow, in the worker ``executor_id`` (``incarnation``)."""

    token: str
    executor_id: str
    incarnation: str

    @classmethod
    def new(cls, executor_id: str, incarnation: str) -> Owner:
        return cls(new_id("own"), executor_id, incarnation)


_CLAIM = prepare(
    update(RunRow)
    .where(
        RunRow.store_id == bindparam("store"),
        RunRow.id == bindparam("run"),
        exists(
            select(WorkerRow.executor_id).where(
                WorkerRow.executor_id == bindparam("executor"),
                WorkerRow.incarnation == bindparam("incarnation"),
                WorkerRow.fenced_at.is_(None),
            )
        ),
    )
    .values(owner=bindparam("owner"))
)
_OWNER = prepare(
    select(RunRow.owner)
    .where(RunRow.store_id == bindparam("store"), RunRow.id == bindparam("run"))
    .with_for_update(key_share=True)  # FOR NO KEY UPDATE on PostgreSQL, as run updates take
)


async def claim(session: AsyncSession, store_id: str, run_id: str, owner: Owner) -> list[bool]:
    """Make ``owner`` the run's writer: answered (in the list returned) once the unit's next
    statement ran, which the claim goes with on PostgreSQL (``core_later``), and which sees
    what the claim waited for; False if the run is missing or the owner's worker was fenced
    (then the execution must stop)."""
    answer: list[bool] = []
    await core_later(
        session,
        _CLAIM,
        {
            "store": store_id,
            "run": run_id,
            "executor": owner.executor_id,
            "incarnation": owner.incarnation,
            "owner": owner.token,
        },
        lambda result: answer.append(bool(result.rowcount)),
    )
    return answer


def guard_writes(store_id: str, run_id: str, owner: Owner) -> None:
    """From here on, every write transaction of this task (and of the tasks it starts) checks
    first that ``owner`` still owns the run."""
    params = {"store": store_id, "run": run_id}

    async def check(session: AsyncSession) -> None:
        found = (await core(session, _OWNER, params)).first()
        if found is None:  # deleted with its session: the run ends like any whose row is gone
            raise NotFound.of("run", run_id)
        if found.owner != owner.token:
            raise Fenced(run_id)

    WRITE_GUARD.set(check)


def unguarded() -> None:
    """A new execution starts without its parent task's guard."""
    WRITE_GUARD.set(None)


def exit_fenced() -> None:
    """This worker was declared dead and its runs are recovered elsewhere: end the process at
    once, writing nothing more (its supervisor starts it afresh). An execution that returned
    instead would have DBOS record its workflow finished, and the run, stranded, would fail."""
    logging.getLogger("loopwright.runtime").error("this worker was declared dead: exiting")
    logging.shutdown()
    os._exit(EXIT_FENCED)
