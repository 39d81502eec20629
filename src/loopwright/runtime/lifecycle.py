"""Run state transitions, each committed with the event that announces it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, bindparam, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from loopwright.db.database import Database, after_commit, core, core_later
from loopwright.db.prepared import prepare
from loopwright.db.repos import conversations
from loopwright.db.tables import AgentRow, ApprovalRow, DeliveryRow, PlanStepRow, RunRow, StoreRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import EventFilter, EventType, NewEvent
from loopwright.domain.vocabulary import TERMINAL_RUN_STATUSES, RunStatus
from loopwright.errors import NotFound
from loopwright.events import log
from loopwright.events.hub import EventHub
from loopwright.runtime import fencing
from loopwright.runtime.admission import Budget, admit_in
from loopwright.runtime.plan import RunPlan
from loopwright.telemetry import metrics

_FINAL_EVENT: dict[str, EventType] = {
    "completed": "run.completed",
    "max_steps": "run.completed",
    "failed": "run.failed",
    "timed_out": "run.failed",
    "cancelled": "run.cancelled",
}
FINAL_EVENT_TYPES = frozenset(_FINAL_EVENT.values())


_RUN_AND_AGENT = prepare(
    select(
        RunRow.status,
        RunRow.plan,
        RunRow.agent_id,
        RunRow.session_id,
        RunRow.started_at,
        RunRow.created_at,
        RunRow.trace,
        RunRow.read_only,
        RunRow.team_step,
        RunRow.trigger_message_id,
        RunRow.trigger,
        AgentRow.id.label("found_agent"),
        AgentRow.memory,
        AgentRow.memory_budget_tokens,
        AgentRow.mode,
        AgentRow.executor_model,
        AgentRow.executor_system_prompt,
        AgentRow.model,
        AgentRow.fallback_models,
        AgentRow.system_prompt,
        AgentRow.goal,
        AgentRow.tools,
        AgentRow.temperature,
        AgentRow.max_steps,
        AgentRow.timeout_s,
        AgentRow.approval,
        AgentRow.tool_approvals,
        StoreRow.settings.label("store_settings"),
    )
    .outerjoin(AgentRow, and_(AgentRow.store_id == RunRow.store_id, AgentRow.id == RunRow.agent_id))
    .join(StoreRow, StoreRow.id == RunRow.store_id)
    .where(RunRow.store_id == bindparam("store"), RunRow.id == bindparam("run"))
)
_START = prepare(
    update(RunRow)
    .where(RunRow.store_id == bindparam("store"), RunRow.id == bindparam("run"))
    .values(status="running", started_at=bindparam("started"), plan=bindparam("new_plan"))
)


@dataclass(frozen=True, slots=True)
class Started:
    plan: RunPlan
    resumed: bool  # started before (a replay after a crash): steps may have records
    parked: bool = False  # waiting for its children, or queued again after them: no slot
    trace: dict[str, Any] | None = None  # ``runs.trace``
    started_at: datetime | None = None


async def start(
    db: Database, store_id: str, run_id: str, owner: fencing.Owner | None = None
) -> Started | None:
    """Mark the run running (``run.started``) and fix its plan; None if it already ended.
    ``owner``: the execution claims the run first (``fencing``); ``Fenced`` if its worker
    was declared dead.

    A replay finds the plan stored on the run and runs with it, so editing the agent while
    a run is down does not change the run halfway."""
    async with db.write(store_id) as session:
        claimed = [True] if owner is None else await fencing.claim(session, store_id, run_id, owner)
        # the claim goes with this read (and a claim that waited for the run's row sees, as
        # the read does, what the execution it waited for committed)
        run = (await core(session, _RUN_AND_AGENT, {"store": store_id, "run": run_id})).first()
        if run is None:
            raise NotFound.of("run", run_id)
        if not claimed[0]:
            raise fencing.Fenced(run_id)
        if run.status in TERMINAL_RUN_STATUSES:
            return None
        if run.plan is not None:
            parked = run.status in ("waiting", "queued")
            return Started(
                RunPlan.from_json(run.plan),
                resumed=True,
                parked=parked,
                trace=run.trace,
                started_at=run.started_at,
            )
        if run.found_agent is None:
            raise NotFound.of("agent", run.agent_id)
        started: datetime = run.started_at or utcnow()
        plan = (
            _executor_plan(store_id, run_id, run)
            if run.team_step
            else _agent_plan(store_id, run_id, run, started)
        )
        await core_later(  # with the append and the COMMIT
            session,
            _START,
            {"store": store_id, "run": run_id, "started": started, "new_plan": plan.to_json()},
        )
        queued_s = (started - run.created_at).total_seconds()
        after_commit(session, lambda: metrics.run_started(store_id, queued_s))
        await log.append(
            session,
            store_id,
            [
                NewEvent(
                    "run.started",
                    {"agent_id": run.agent_id, "model": plan.models[0]},
                    session_id=run.session_id,
                    run_id=run_id,
                )
            ],
        )
        return Started(plan, resumed=False, trace=run.trace, started_at=started)


EXECUTOR_PROMPT = (
    "You are an executor in a team: do the one step of a plan you are given, using only the "
    "read-only tools you have, and answer with what you found, briefly and completely. You "
    "cannot change anything; if the step needs a change, say what should change."
)


def _agent_plan(store_id: str, run_id: str, run: Any, started: datetime) -> RunPlan:
    return RunPlan(
        store_id=store_id,
        run_id=run_id,
        session_id=run.session_id,
        agent_id=run.agent_id,
        models=(run.model, *run.fallback_models),
        system_prompt="\n\n".join(
            part for part in (run.system_prompt, f"Goal: {run.goal}" if run.goal else "") if part
        ),
        tools=tuple(run.tools),
        temperature=run.temperature,
        max_steps=run.max_steps,
        deadline=started.timestamp() + run.timeout_s,
        read_only=run.read_only,
        mode="reflect"
        if run.trigger == "reflect"
        else "team"
        if run.mode == "team" and not run.read_only
        else "single",
        memory_budget=run.memory_budget_tokens if run.memory and not run.read_only else 0,
        message_id=run.trigger_message_id,
        limits=dict(run.store_settings or {}),
        approval=run.approval,
        tool_approvals=dict(run.tool_approvals or {}),
    )


def _executor_plan(store_id: str, run_id: str, run: Any) -> RunPlan:
    """A team plan step's executor: the agent's executor model and prompt, the step's tools
    (read-only), and the share of the planner's limits it was given."""
    step: dict[str, Any] = run.team_step
    model = run.executor_model or run.model
    return RunPlan(
        store_id=store_id,
        run_id=run_id,
        session_id=run.session_id,
        agent_id=run.agent_id,
        models=(model, *run.fallback_models),
        system_prompt=run.executor_system_prompt or EXECUTOR_PROMPT,
        tools=tuple(step.get("tools") or run.tools),
        temperature=run.temperature,
        max_steps=int(step["max_steps"]),
        deadline=float(step["deadline"]),
        read_only=True,
        limits=dict(run.store_settings or {}),
    )


_child = aliased(RunRow)
_FINISH = prepare(
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
    .returning(
        RunRow.session_id,
        RunRow.parent_run_id,
        RunRow.input_tokens,
        RunRow.output_tokens,
        RunRow.agent_id,
        RunRow.started_at,
        # whether a completion callback waits for it (its final event says so, and wakes the
        # senders: runs without one cost them nothing)
        exists()
        .where(DeliveryRow.store_id == bindparam("store"), DeliveryRow.run_id == bindparam("run"))
        .label("callback"),
    )
)
_executor = aliased(RunRow)
# A parent waiting for its children is queued again (for a slot) once the last one ended; a
# team planner as soon as one of its plan's executors ended (it starts the steps that waited
# for it): a step still ``running`` whose executor run is terminal.
_WAKE_PARENT = prepare(
    update(RunRow)
    .where(
        RunRow.store_id == bindparam("store"),
        RunRow.id == bindparam("parent"),
        RunRow.status == "waiting",
        ~exists().where(ApprovalRow.run_id == RunRow.id, ApprovalRow.status == "pending"),
        or_(
            ~exists().where(
                _child.store_id == RunRow.store_id,
                _child.parent_run_id == RunRow.id,
                _child.status.not_in(sorted(TERMINAL_RUN_STATUSES)),
            ),
            exists().where(
                PlanStepRow.run_id == RunRow.id,
                PlanStepRow.status == "running",
                _executor.store_id == RunRow.store_id,
                _executor.id == PlanStepRow.executor_run_id,
                _executor.status.in_(sorted(TERMINAL_RUN_STATUSES)),
            ),
        ),
    )
    .values(status="queued")
    .returning(RunRow.session_id)
)


@dataclass(frozen=True, slots=True)
class Ended:
    admitted: list[str]
    """The store's waiting runs admitted in the same commit (the ended run's slot is free):
    the caller starts them."""


async def finish(
    db: Database,
    store_id: str,
    run_id: str,
    status: RunStatus,
    *,
    stop_reason: str,
    error: str | None = None,
    admit: Budget | None = None,
) -> Ended | None:
    """Move a run to a terminal status once; None if it already was terminal. With
    ``admit``, the store's next waiting runs are admitted in the same transaction."""
    async with db.write(store_id) as session:
        return await end(
            session, store_id, run_id, status, stop_reason=stop_reason, error=error, admit=admit
        )


async def end(
    session: AsyncSession,
    store_id: str,
    run_id: str,
    status: RunStatus,
    *,
    stop_reason: str,
    error: str | None = None,
    admit: Budget | None = None,
) -> Ended | None:
    """``finish`` in the caller's transaction (the final model step ends its run in its own)."""
    ended = await core(
        session,
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
        return None
    payload: dict[str, Any] = {
        "status": status,
        "stop_reason": stop_reason,
        "usage": {"input_tokens": row.input_tokens, "output_tokens": row.output_tokens},
    }
    if error:
        payload["error"] = error
    if row.callback:
        payload["callback"] = True
    await log.append(
        session,
        store_id,
        [NewEvent(_FINAL_EVENT[status], payload, session_id=row.session_id, run_id=run_id)],
    )
    if row.parent_run_id is not None:
        await wake_if_children_done(session, store_id, row.parent_run_id)
    ended_at = utcnow()
    after_commit(
        session,
        lambda: metrics.run_finished(store_id, row.agent_id, status, row.started_at, ended_at),
    )
    return Ended(await admit_in(session, store_id, admit) if admit else [])


async def wake_if_children_done(
    session: AsyncSession,
    store_id: str,
    run_id: str,
    waited_on: Literal["child_runs", "approval"] = "child_runs",
) -> bool:
    """A run waiting for its children goes back in the queue (``run.resumed``) once none is
    unfinished and none of its tool calls waits for an approval; admission then gives it a
    slot like any queued run."""
    woken = (await core(session, _WAKE_PARENT, {"store": store_id, "parent": run_id})).first()
    if woken is None:
        return False
    await log.append(
        session,
        store_id,
        [
            NewEvent(
                "run.resumed",
                {"waited_on": waited_on},
                session_id=woken.session_id,
                run_id=run_id,
            )
        ],
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
            async with db.read(store_id) as session:
                run = await conversations.get_run(session, store_id, run_id)
            remaining = deadline - loop.time()
            if run.status in TERMINAL_RUN_STATUSES or remaining <= 0:
                return run
            try:
                async with asyncio.timeout(min(remaining, poll_s)):
                    await sub.queue.get()
            except TimeoutError:
                pass
