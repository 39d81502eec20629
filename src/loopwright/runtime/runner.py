"""The runtime facade the server talks to: starts DBOS and the workers, enqueues, cancels and
waits for runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSConfig
from sqlalchemy import select

from loopwright.crypto import SecretBox, load_secret_box
from loopwright.db.database import Database
from loopwright.db.repos import conversations, counters, secrets_at_rest
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import ApprovalRow, RunRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import Event
from loopwright.domain.vocabulary import TERMINAL_RUN_STATUSES
from loopwright.egress import EgressGuard
from loopwright.errors import NotFound
from loopwright.events.hub import EventHub

# ``durable`` registers the run workflow with DBOS on import, before launch, so recovery at
# launch finds it.
from loopwright.runtime import (
    admission,
    approvals,
    callbacks,
    children,
    durable,
    failpoints,
    fencing,
    heap,
    lifecycle,
    reflection,
    scheduler,
    services,
    workers,
)
from loopwright.runtime.local_runs import LocalRuns
from loopwright.runtime.models import ModelResolver
from loopwright.runtime.submit import Prepare, Record, Submission, Submitted, submit_message
from loopwright.settings import Settings
from loopwright.tools.http_tool import http_tool_client
from loopwright.tools.mcp import McpPool

logger = logging.getLogger("loopwright.runtime")


class Runtime:
    def __init__(self, settings: Settings, db: Database, hub: EventHub) -> None:
        self.settings = settings
        self.db = db
        self.hub = hub
        self.secrets: SecretBox = load_secret_box(settings)
        self.egress = EgressGuard.from_setting(settings.egress_allow)
        self.local = LocalRuns()
        self.models = ModelResolver(settings, self.secrets, self.egress)
        self.mcp = McpPool(self.egress)
        self.http = http_tool_client(self.egress)
        self.admitter = admission.Admitter(
            db,
            durable.start_run,
            limit=settings.store_concurrency,
            worker_limit=settings.worker_concurrency,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._later: set[asyncio.Task[None]] = set()
        self._admitting: set[str] = set()  # stores this process is admitting for others
        self._admit_again: set[str] = set()  # ... with runs queued since it began
        self._counters_swept = 0.0
        self.callbacks = callbacks.Dispatcher(settings, db, self.secrets, self.egress, self.http)
        self.scheduler = scheduler.Scheduler(
            self.submit,
            db,
            poll_s=settings.schedule_poll_s,
            grace_s=settings.schedule_grace_s,
        )
        self._launched = False
        self._registered = False
        self._holds_heap = False
        self._heartbeat: asyncio.Task[None] | None = None
        self.workers = workers.Workers(settings, db, on_fenced=fencing.exit_fenced)
        self._services = services.RunServices(
            settings=settings,
            db=db,
            hub=hub,
            secrets=self.secrets,
            egress=self.egress,
            models=self.models,
            local=self.local,
            admitter=self.admitter,
            mcp=self.mcp,
            http=self.http,
            worker=self.workers.identity,
        )

    async def start(self) -> None:
        failpoints.arm(self.settings.failpoint)
        async with self.db.read(ALL_STORES) as session:
            await secrets_at_rest.verify(session, self.secrets)  # a wrong key fails loudly here
        services.install(self.services())
        # Before DBOS launches: the runs it recovers at launch claim them as this worker.
        await self.workers.register()
        self._registered = True
        heartbeat = self._heartbeat = asyncio.create_task(self.workers.run())
        system_url = self.settings.dbos_system_url
        if system_url.startswith("sqlite:///"):
            _enable_wal(Path(system_url[len("sqlite:///") :]))
        config: DBOSConfig = {
            "name": "loopwright",
            "system_database_url": system_url,
            # Explicit, and not the release: the run workflow records no DBOS operation of its
            # own (its steps' records are in the app database), so workers of two releases
            # recover each other's runs (docs/operations.md, Deploys).
            "application_version": self.settings.dbos_application_version,
            "executor_id": self.settings.process_executor_id,
            "log_level": "WARNING",
        }
        if system_url.startswith("sqlite"):
            config["db_engine_kwargs"] = _SQLITE_SYSTEM_DB_ENGINE
        else:
            config["sys_db_pool_size"] = self.settings.db_pool_size
            config["db_engine_kwargs"] = _PG_SYSTEM_DB_ENGINE
            config["notification_coalesce_sec"] = DBOS_NOTIFY_EVERY_S
        DBOS(config=config)
        DBOS.launch()
        self._launched = True
        self.workers.recovering = True
        await self._adopt_orphans()
        await asyncio.to_thread(heap.warm_up)
        heap.hold()
        self._holds_heap = True
        self.hub.watch(self._interrupt_if_cancelled)
        self.hub.watch(self.callbacks.notice)
        self.hub.watch_queued(self._admit_queued)
        self._tasks = [
            asyncio.create_task(self._sweep()),
            asyncio.create_task(self._watch_cancels()),
            asyncio.create_task(self.scheduler.run()),
            asyncio.create_task(self.callbacks.run()),
            heartbeat,
        ]

    def readiness(self) -> dict[str, str]:
        """The durable engine and the worker, for ``/readyz``: ``ok``, ``off`` (an API-only
        process), ``busy`` (at ``worker_concurrency``: runs wait for another worker) or what is
        wrong."""
        if not self._launched:
            return {"durable_engine": "off", "worker": "off"}
        if not self._tasks or any(task.done() for task in self._tasks):
            return {"durable_engine": "ok", "worker": "stopped"}
        busy = self.admitter.running >= self.settings.worker_concurrency
        return {"durable_engine": "ok", "worker": "busy" if busy else "ok"}

    def services(self) -> services.RunServices:
        return self._services

    async def _adopt_orphans(self) -> None:
        """Runs left pending by a process of an earlier ``--processes`` larger than this one's
        (executor ``<executor_id>-<index>`` with index >= processes): nobody restarts that
        process, so the first process recovers its runs. DBOS re-enqueues them, and its queue
        admits exactly one runner even if two processes recover the same run."""
        if self.settings.process_index != 0:
            return
        prefix = f"{self.settings.executor_id}-"
        pending = await DBOS.list_workflows_async(
            status="PENDING", load_input=False, load_output=False
        )
        orphaned = sorted(
            {
                w.executor_id
                for w in pending
                if w.executor_id
                and w.executor_id.startswith(prefix)
                and w.executor_id[len(prefix) :].isdigit()
                and int(w.executor_id[len(prefix) :]) >= self.settings.processes
            }
        )
        if orphaned:
            logger.warning("recovering the runs of executors %s", ", ".join(orphaned))
            await asyncio.to_thread(DBOS._recover_pending_workflows, orphaned)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):  # not watching if start failed early
            self.hub.unwatch(self._interrupt_if_cancelled)
            self.hub.unwatch(self.callbacks.notice)
            self.hub.unwatch_queued(self._admit_queued)
        tasks = {*self._tasks, *self._later, *([self._heartbeat] if self._heartbeat else [])}
        self._heartbeat = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._launched:
            DBOS.destroy()
            self._launched = False
        if self._registered:
            self._registered = False
            with contextlib.suppress(Exception):  # a database gone: the row expires anyway
                await self.workers.leave()
        services.uninstall(self.services())
        await self.http.aclose()
        await self.models.aclose()
        if self._holds_heap:
            self._holds_heap = False
            heap.release()

    def admission_budget(self) -> admission.Budget | None:
        """For a message's transaction to admit its run at once; None in an API-only process
        (``--no-worker``), which leaves queued runs to the workers' sweep."""
        return self.admitter.budget() if self._launched else None

    async def start_admitted(self, store_id: str, run_ids: list[str]) -> None:
        await self.admitter.start_all(store_id, run_ids)

    async def submit(
        self, submission: Submission | Prepare, *, record: Record | None = None
    ) -> Submitted:
        """The one way in: commit the message and its queued run (with its admission if the
        store has room), interrupt the session's active runs per its busy policy, start what
        was admitted. A trigger passes a ``Prepare`` (its claim, in the same transaction)
        and a ``Record``."""
        submitted = await submit_message(
            self.db, submission, admit=self.admission_budget(), record=record
        )
        store_id = submitted.run.store_id
        await self.cancel_many(store_id, submitted.interrupted)
        await self.start_admitted(store_id, submitted.admitted)
        if submitted.run.not_before is not None and self._launched:
            self._admit_at(store_id, submitted.run.not_before.timestamp())
        return submitted

    def _admit_at(self, store_id: str, at: float) -> None:
        """Admit the store's runs when a run queued for a later minute may start (the sweep
        does it too, after a restart)."""

        async def later() -> None:
            await asyncio.sleep(max(0.0, at - time.time()))
            await self.admitter.admit(store_id)

        task = asyncio.get_running_loop().create_task(later())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def decide(
        self,
        store_id: str,
        approval_id: str,
        *,
        approve: bool,
        arguments: dict[str, Any] | None,
        reason: str | None,
        by: str,
    ) -> ApprovalRow:
        """Approve (with arguments checked against the tool's schema) or reject a pending
        approval; its run is queued again in the same commit and started here if admitted."""
        if arguments is not None:
            found = await approvals.get(self.db, store_id, approval_id)
            await approvals.check_arguments(self.services(), store_id, found.tool, arguments)
        decided = await approvals.decide(
            self.db,
            store_id,
            approval_id,
            approve=approve,
            arguments=arguments,
            reason=reason,
            by=by,
            admit=self.admission_budget(),
        )
        failpoints.hit("after_approval_decided")
        await self.start_admitted(store_id, decided.admitted)
        return decided.approval

    async def cancel(self, store_id: str, run_id: str) -> RunRow:
        """Record the cancellation of the run and its unfinished descendants (their slots go
        to the store's next waiting runs in the same commit), stop DBOS from continuing them,
        interrupt their calls in flight in this process (other processes see ``run.cancelled``
        through the relay, or their cancel watch)."""
        async with self.db.read(store_id) as session:
            await conversations.get_run(session, store_id, run_id)  # NotFound if missing
        ended = await children.cancel_tree(
            self.services(), store_id, run_id, admit=self.admission_budget()
        )
        for cancelled in ended.run_ids:
            self.local.cancel(cancelled)
            if self._launched:
                with contextlib.suppress(Exception):
                    await DBOS.cancel_workflow_async(cancelled)
        async with self.db.read(store_id) as session:
            run = await conversations.get_run(session, store_id, run_id)
        await self.start_admitted(store_id, ended.admitted)
        return run

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

    async def _sweep(self) -> None:
        """Admit waiting runs, and mend runs that hold a slot with nothing running them, after
        a crash between a commit and what was to follow it (ending a run and admitting the
        next, admitting a run and starting it) or a workflow that failed outright."""
        while True:
            try:
                before = utcnow() - timedelta(seconds=self.settings.sweep_s)
                found = await admission.stranded(self.db, before)
                for store_id, run_id in found.unstarted:
                    await self.admitter.start(store_id, run_id)
                for store_id, run_id, status in found.abandoned:
                    await self._fail_abandoned(store_id, run_id, status)
                for store_id, admitted in await approvals.expire_due(
                    self.db, self.admission_budget()
                ):
                    await self.start_admitted(store_id, admitted)
                for store_id in await admission.stores_waiting(self.db):
                    await self.admitter.admit(store_id)
                # sessions quiet for their agent's reflect_idle_s are reflected on
                idle = await reflection.reflect_idle(self.db, self.admission_budget(), utcnow())
                for store_id, requested in idle:
                    await self.start_admitted(store_id, requested.admitted)
                if time.time() - self._counters_swept >= 60:  # they expire by the minute
                    self._counters_swept = time.time()
                    async with self.db.write(ALL_STORES) as session:
                        await counters.delete_expired(session)
            except Exception:  # the sweep must outlive a bad moment of the database
                logger.exception("run sweep failed")
            await asyncio.sleep(self.settings.sweep_s)

    async def _fail_abandoned(self, store_id: str, run_id: str, status: str) -> None:
        """The sweep read the run as running, then its workflow as ended: it was abandoned,
        unless it ended between the two reads (then this finds it terminal and does nothing)."""
        ended = await lifecycle.finish(
            self.db,
            store_id,
            run_id,
            "failed",
            stop_reason="internal_error",
            error=f"the run's workflow ended ({status}) before the run did",
            admit=self.admission_budget(),
        )
        if ended:
            logger.error("run %s: its workflow ended (%s) before the run did", run_id, status)
            await self.start_admitted(store_id, ended.admitted)

    def _admit_queued(self, store_id: str) -> None:
        """Another process (an API-only one, on any machine) queued a run of the store:
        admit it now rather than at the next sweep. Every worker tries; the store's lock lets
        one admit it and the others find nothing to do. One admission per store at a time in
        this process: the runs queued meanwhile wait for one more, not one each (a burst of
        messages would otherwise queue on the store's lock)."""
        if store_id in self._admitting:
            self._admit_again.add(store_id)
            return
        self._admitting.add(store_id)

        async def admit() -> None:
            try:
                while True:
                    self._admit_again.discard(store_id)
                    await self.admitter.admit(store_id)
                    if store_id not in self._admit_again:
                        break
            except Exception:  # the sweep admits it later
                logger.exception("admitting the runs queued in %s failed", store_id)
            finally:
                self._admitting.discard(store_id)

        task = asyncio.get_running_loop().create_task(admit())
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    def _interrupt_if_cancelled(self, event: Event) -> None:
        """A run of this process cancelled by another process on this machine (its
        ``run.cancelled`` came through the relay): interrupt it now."""
        if event.type == "run.cancelled" and event.run_id and self.local.is_running(event.run_id):
            self.local.cancel(event.run_id)

    async def _watch_cancels(self) -> None:
        """Interrupt runs of this process cancelled by a process whose events do not reach
        it (another machine): by their status, every ``cancel_watch_s``."""
        while True:
            await asyncio.sleep(self.settings.cancel_watch_s)
            running = self.local.running()
            if not running:
                continue
            try:
                async with self.db.read(ALL_STORES) as session:
                    live = set(
                        await session.scalars(
                            select(RunRow.id).where(
                                RunRow.id.in_(running),
                                RunRow.status.not_in(sorted(TERMINAL_RUN_STATUSES)),
                            )
                        )
                    )
                for run_id in set(running) - live:
                    self.local.cancel(run_id)
            except Exception:
                logger.exception("cancel watch failed")


class _NormalSyncConnection(sqlite3.Connection):
    """DBOS's SQLite connections with ``synchronous=NORMAL``, as the app database: in WAL mode
    a commit survives a process crash without an fsync of its own (DBOS's default, FULL,
    spent about 0.25 ms of fsync on each of a run's two system-database commits)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute("PRAGMA synchronous=NORMAL")


# No pre-ping: a database file has no connection to lose, and the ping is a statement per
# checkout.
_SQLITE_SYSTEM_DB_ENGINE: dict[str, Any] = {
    "pool_pre_ping": False,
    "connect_args": {"factory": _NormalSyncConnection},
}


DBOS_NOTIFY_EVERY_S = 1.0
"""On PostgreSQL, DBOS pushes the notifications of its messages, events and streams from a
thread that wakes every ``notification_coalesce_sec`` (10 ms by default: 8 ms of CPU a second,
idle or not, measured). Runs use none of them (their events are in the app's log), so it
wakes once a second."""


# No pre-ping either: it is a round trip per checkout (three per run), and DBOS retries an
# operation whose connection was lost (``db_retry``) on a new one.
_PG_SYSTEM_DB_ENGINE: dict[str, Any] = {"pool_pre_ping": False, "pool_use_lifo": True}


def _enable_wal(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
