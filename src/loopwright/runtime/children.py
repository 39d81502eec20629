"""Child runs: a run's tool call starts a run of another agent (or the same), the parent waits
without holding a store slot, and goes on with the children's answers.

- A child gets a session of its own (of its agent), so its conversation is its own and the
  one-run-at-a-time rule of its parent's session, which the waiting parent still heads, does
  not hold it back. Its run records ``parent_run_id`` and the ``parent_call_id`` that started
  it; that pair is unique, so a replayed call finds its child instead of starting another.
- While its children run the parent is ``waiting`` (``run.waiting``): its slot goes to the
  store's next run in the same commit. The commit that ends its last child queues it again
  (``run.resumed``, see ``lifecycle.end``) and admission gives it a slot like any run; the
  parked workflow then goes on, its finished steps returning their records.
- A child of a read-only run is read-only; cancelling a run cancels its descendants.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import core
from loopwright.db.repos import agents, conversations
from loopwright.db.tables import RunRow
from loopwright.domain.events import EventFilter, NewEvent
from loopwright.domain.vocabulary import TERMINAL_RUN_STATUSES
from loopwright.engine.types import ToolCall, ToolOutcome
from loopwright.errors import NotFound
from loopwright.events import log
from loopwright.runtime import lifecycle
from loopwright.runtime.admission import Budget, admit_in
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices
from loopwright.runtime.submit import Submission, accept
from loopwright.tools.agents import AskAgentArgs

_CHILD_OF_CALL = select(RunRow.id, RunRow.status, RunRow.agent_id, RunRow.error).where(
    RunRow.store_id == bindparam("store"),
    RunRow.parent_run_id == bindparam("parent"),
    RunRow.parent_call_id == bindparam("call"),
)


async def ask_agent(rt: RunServices, plan: RunPlan, call: ToolCall) -> ToolOutcome:
    """The answer of the child run this call started, or ``waiting_on`` it until it ends."""
    try:
        args = AskAgentArgs.model_validate(call.arguments)
    except ValueError:
        return ToolOutcome(
            "error", {"error": "ask_agent takes {agent, message}", "arguments": call.arguments}
        )
    params = {"store": plan.store_id, "parent": plan.run_id, "call": call.call_id}
    admitted: list[str] = []
    async with rt.db.write(plan.store_id) as session:
        child = (await core(session, _CHILD_OF_CALL, params)).first()
        if child is None:
            try:
                child_id, admitted = await _start_child(rt, session, plan, call, args)
            except NotFound:
                return ToolOutcome("error", {"error": f"no agent named {args.agent!r}"})
            status, error, agent_name = "queued", None, args.agent
        else:
            child_id, status, error = child.id, child.status, child.error
            agent_name = args.agent
        answer = None
        if status in TERMINAL_RUN_STATUSES:
            answer = await conversations.last_answer(session, plan.store_id, child_id)
    rt.admitter.start_detached(plan.store_id, admitted)
    if status not in TERMINAL_RUN_STATUSES:
        return ToolOutcome("ok", None, waiting_on=(child_id,))
    content: dict[str, Any] = {"agent": agent_name, "run_id": child_id, "status": status}
    if answer is not None:
        content["answer"] = answer
    if error:
        content["error"] = error
    return ToolOutcome("ok" if status == "completed" else "error", content)


async def _start_child(
    rt: RunServices, session: AsyncSession, plan: RunPlan, call: ToolCall, args: AskAgentArgs
) -> tuple[str, list[str]]:
    agent = await agents.get_by_name(session, plan.store_id, args.agent)
    chat = await conversations.create_session(
        session, plan.store_id, agent.id, title=f"asked by run {plan.run_id}", busy_policy="enqueue"
    )
    priority = await conversations.run_priority(session, plan.store_id, plan.run_id)
    submitted = await accept(
        session,
        Submission(
            store_id=plan.store_id,
            session_id=chat.id,
            content=args.message,
            priority=priority or "normal",
            trigger="child",
            parent_run_id=plan.run_id,
            parent_call_id=call.call_id,
            read_only=plan.read_only,
        ),
        admit=rt.admitter.budget(),
    )
    return submitted.run.id, submitted.admitted


_PARK = (
    update(RunRow)
    .where(
        RunRow.store_id == bindparam("store"),
        RunRow.id == bindparam("run"),
        RunRow.status == "running",
    )
    .values(status="waiting")
)
_STATUS = select(RunRow.status).where(
    RunRow.store_id == bindparam("store"), RunRow.id == bindparam("run")
)


@dataclass(frozen=True, slots=True)
class Woken:
    """How a parked run's wait ended: ``running`` again (it holds a slot), or ended."""

    running: bool


async def park(rt: RunServices, plan: RunPlan, waiting_on: tuple[str, ...]) -> list[str]:
    """``running`` → ``waiting``, announced, its slot given to the store's next runs (their
    ids, to start). ``waiting_on``: child runs, and approvals (``apr_…``). If its children
    all ended and its approvals were all decided meanwhile it is queued again at once."""
    async with rt.db.write(plan.store_id) as session:
        params = {"store": plan.store_id, "run": plan.run_id}
        parked = await core(session, _PARK, params)
        if getattr(parked, "rowcount", 0) == 0:
            return []  # ended meanwhile (cancelled), or parked already (a replay)
        approvals = [i for i in waiting_on if i.startswith("apr_")]
        child_ids = [i for i in waiting_on if not i.startswith("apr_")]
        waiting: dict[str, Any] = (
            {"waiting_on": "child_runs", "child_run_ids": child_ids}
            if child_ids
            else {"waiting_on": "approval", "approval_id": approvals[0]}
        )
        await log.append(
            session,
            plan.store_id,
            [
                NewEvent(
                    "run.waiting",
                    waiting,
                    session_id=plan.session_id,
                    run_id=plan.run_id,
                )
            ],
        )
        await lifecycle.wake_if_children_done(session, plan.store_id, plan.run_id)
        return await admit_in(session, plan.store_id, rt.admitter.budget())


async def wait_for_slot(rt: RunServices, plan: RunPlan) -> Woken:
    """Until the parked run is admitted again, or ends (cancelled; or timed out here, when
    its deadline passes while it waits)."""
    woken = rt.local.waiter(plan.run_id)
    watched = EventFilter(run_id=plan.run_id)
    with rt.hub.subscribe(plan.store_id, watched) as sub:
        while True:
            async with rt.db.read(plan.store_id) as session:
                found = await core(session, _STATUS, {"store": plan.store_id, "run": plan.run_id})
                status = found.scalar()
            if status == "running":
                return Woken(running=True)
            if status is None or status in TERMINAL_RUN_STATUSES:
                return Woken(running=False)
            left = plan.deadline - time.time()
            if left <= 0:
                await _time_out(rt, plan)
                return Woken(running=False)
            woken.clear()
            waits = [asyncio.ensure_future(woken.wait()), asyncio.ensure_future(sub.queue.get())]
            try:
                await asyncio.wait(
                    waits,
                    timeout=min(left, rt.settings.event_poll_s),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for waiting in waits:
                    waiting.cancel()


async def _time_out(rt: RunServices, plan: RunPlan) -> None:
    ended = await cancel_tree(
        rt,
        plan.store_id,
        plan.run_id,
        admit=rt.admitter.budget(),
        status="timed_out",
        reason="timeout",
    )
    rt.admitter.start_detached(plan.store_id, ended.admitted)


@dataclass(frozen=True, slots=True)
class TreeEnded:
    run_ids: list[str]
    """The runs this ended: the run and its unfinished descendants."""
    admitted: list[str]


_UNFINISHED_CHILDREN = select(RunRow.id).where(
    RunRow.store_id == bindparam("store"),
    RunRow.parent_run_id.in_(bindparam("parents", expanding=True)),
    RunRow.status.not_in(sorted(TERMINAL_RUN_STATUSES)),
)


async def cancel_tree(
    rt: RunServices,
    store_id: str,
    run_id: str,
    *,
    admit: Budget | None,
    status: str = "cancelled",
    reason: str = "cancelled",
) -> TreeEnded:
    """End a run (``cancelled``, or ``timed_out``) and cancel its unfinished descendants, in
    one commit that gives their slots to the store's next runs."""
    ended: list[str] = []
    async with rt.db.write(store_id) as session:
        first = await lifecycle.end(
            session,
            store_id,
            run_id,
            "timed_out" if status == "timed_out" else "cancelled",
            stop_reason=reason,
            error="the run's time limit passed while it waited" if status == "timed_out" else None,
        )
        if first is not None:
            ended.append(run_id)
        parents = [run_id]
        while parents:
            found = await core(
                session, _UNFINISHED_CHILDREN, {"store": store_id, "parents": parents}
            )
            parents = list(found.scalars())
            for child in parents:
                if await lifecycle.end(
                    session, store_id, child, "cancelled", stop_reason="parent_cancelled"
                ):
                    ended.append(child)
        admitted = await admit_in(session, store_id, admit) if ended and admit else []
    return TreeEnded(ended, admitted)
