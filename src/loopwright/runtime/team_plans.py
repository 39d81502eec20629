"""The engine's ``PlanPort`` over the database: plans and their steps, executors as child runs.

Every transition is one commit with the events that announce it, and each is conditional on
the state it leaves (a step starts only from ``pending`` with its previous attempt count, ends
only from ``running`` with the same executor), so a replayed planner that repeats a
transition changes nothing and announces nothing twice. An executor is a child run whose
``parent_call_id`` is ``plan:<plan>:<step>:<attempt>``: the unique (parent run, call) pair
lets a replay find the executor it started instead of starting another.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import core
from loopwright.db.repos import conversations
from loopwright.db.tables import PlanRow, PlanStepRow, RunRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import NewEvent
from loopwright.domain.vocabulary import TERMINAL_RUN_STATUSES
from loopwright.engine.team import StepStart, StepState, Verdict
from loopwright.engine.team_plan import Decision
from loopwright.engine.types import CallContext
from loopwright.events import log
from loopwright.ids import new_id
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices
from loopwright.runtime.submit import Submission, accept

_INSERT_PLAN = insert(PlanRow)
_INSERT_STEP = insert(PlanStepRow)
_STEPS = (
    select(PlanStepRow)
    .where(PlanStepRow.store_id == bindparam("store"), PlanStepRow.plan_id == bindparam("plan"))
    .order_by(PlanStepRow.index)
)
_EXECUTORS = select(
    RunRow.id,
    RunRow.status,
    RunRow.steps,
    RunRow.error,
    RunRow.team_step,
    RunRow.input_tokens,
    RunRow.output_tokens,
).where(
    RunRow.store_id == bindparam("store"),
    RunRow.parent_run_id == bindparam("parent"),
    RunRow.parent_call_id.like(bindparam("calls")),  # see ``executor_call_id``
)
_CHILD_OF_CALL = select(RunRow.id, RunRow.session_id).where(
    RunRow.store_id == bindparam("store"),
    RunRow.parent_run_id == bindparam("parent"),
    RunRow.parent_call_id == bindparam("call"),
)
_RUN_USAGE = select(RunRow.status, RunRow.error, RunRow.input_tokens, RunRow.output_tokens).where(
    RunRow.store_id == bindparam("store"), RunRow.id == bindparam("run")
)


SYNTHESIS_RESERVE_S = 5.0
SYNTHESIS_FLOOR_S = 1.0


def executor_deadline(planner_deadline: float, now: float) -> float:
    """Executors end a little before their planner (a tenth of the time left, at least
    ``SYNTHESIS_FLOOR_S`` but never more than a quarter of it, at most ``SYNTHESIS_RESERVE_S``):
    it can still resume and write what they found, and a planner ending at its deadline does
    not race its executors ending at the same instant."""
    left = max(0.0, planner_deadline - now)
    floor = min(SYNTHESIS_FLOOR_S, 0.25 * left)
    return planner_deadline - min(SYNTHESIS_RESERVE_S, max(0.1 * left, floor))


def executor_call_id(plan_id: str, key: str, attempt: int) -> str:
    return f"plan:{plan_id}:{key}:{attempt}"


class DbPlans:
    """The plans of one planner run."""

    def __init__(self, rt: RunServices, plan: RunPlan) -> None:
        self.rt = rt
        self.run = plan

    def _event(self, type_: Any, payload: dict[str, Any]) -> NewEvent:
        return NewEvent(type_, payload, session_id=self.run.session_id, run_id=self.run.run_id)

    async def record_decision(self, decision: Decision, ctx: CallContext) -> str | None:
        session = ctx.transaction
        assert isinstance(session, AsyncSession), "team_decide acts in its call's transaction"
        run, store = self.run, self.run.store_id
        plan_id = new_id("pln") if decision.plan is not None else None
        events = [
            self._event(
                "analysis",
                {"route": decision.route, "reason": decision.reason, "plan_id": plan_id},
            )
        ]
        if decision.plan is not None and plan_id is not None:
            now = utcnow()
            await core(
                session,
                _INSERT_PLAN,
                {
                    "id": plan_id,
                    "store_id": store,
                    "run_id": run.run_id,
                    "goal": decision.plan.goal,
                    "reason": decision.reason,
                    "status": "running",
                    "created_at": now,
                    "finished_at": None,
                },
            )
            rows = [
                {
                    "id": new_id("pst"),
                    "store_id": store,
                    "plan_id": plan_id,
                    "run_id": run.run_id,
                    "key": step.id,
                    "index": index,
                    "title": step.title,
                    "description": step.instructions,
                    "depends_on": list(step.depends_on),
                    "tools": list(step.tools),
                    "status": "pending",
                    "attempts": 0,
                    "executor_run_id": None,
                    "result": None,
                    "error": None,
                    "created_at": now,
                    "finished_at": None,
                }
                for index, step in enumerate(decision.plan.steps)
            ]
            await core(session, _INSERT_STEP, rows)
            events.append(
                self._event(
                    "plan.created",
                    {
                        "plan_id": plan_id,
                        "goal": decision.plan.goal,
                        "reason": decision.reason,
                        "steps": [
                            {
                                "step_id": r["key"],
                                "index": r["index"],
                                "title": r["title"],
                                "description": r["description"],
                                "depends_on": r["depends_on"],
                                "tools": r["tools"],
                            }
                            for r in rows
                        ],
                    },
                )
            )
        await log.append(session, store, events)
        return plan_id

    async def steps(self, plan_id: str) -> list[StepState]:
        store = self.run.store_id
        async with self.rt.db.read(store) as session:
            rows = list((await session.scalars(_STEPS, {"store": store, "plan": plan_id})).all())
            params = {"store": store, "parent": self.run.run_id, "calls": f"plan:{plan_id}:%"}
            found = await core(session, _EXECUTORS, params)
            executors = [e for e in found if (e.team_step or {}).get("plan_id") == plan_id]
            answers: dict[str, str | None] = {}
            current = {r.executor_run_id for r in rows if r.executor_run_id}
            for e in executors:
                if e.id in current and e.status in TERMINAL_RUN_STATUSES:
                    answers[e.id] = await conversations.last_answer(session, store, e.id)
        spent: dict[str, int] = defaultdict(int)
        reserved: dict[str, int] = defaultdict(int)
        by_id = {e.id: e for e in executors}
        for e in executors:
            key = str(e.team_step.get("step_key"))
            if e.status in TERMINAL_RUN_STATUSES:
                spent[key] += e.steps
            else:
                reserved[key] += int(e.team_step.get("max_steps", 0))
        states = []
        for r in rows:
            executor = by_id.get(r.executor_run_id or "")
            result, error = r.result, r.error
            if r.status == "running" and executor is not None:
                result = answers.get(executor.id)
                error = executor.error
            states.append(
                StepState(
                    key=r.key,
                    title=r.title,
                    instructions=r.description,
                    depends_on=tuple(r.depends_on),
                    tools=tuple(r.tools),
                    status=r.status,  # type: ignore[arg-type]
                    attempts=r.attempts,
                    executor_run_id=r.executor_run_id,
                    executor_status=executor.status if executor is not None else None,
                    result=result,
                    error=error,
                    spent=spent[r.key],
                    reserved=reserved[r.key],
                )
            )
        return states

    async def start_steps(self, plan_id: str, starts: Sequence[StepStart]) -> None:
        store = self.run.store_id
        admitted: list[str] = []
        async with self.rt.db.write(self.run.store_id) as session:
            for start in starts:
                admitted += await self._start_step(session, plan_id, start)
        self.rt.admitter.start_detached(store, admitted)

    async def _start_step(self, session: AsyncSession, plan_id: str, start: StepStart) -> list[str]:
        run, store, step, attempt = self.run, self.run.store_id, start.step, start.attempt
        call_id = executor_call_id(plan_id, step.key, attempt)
        admitted: list[str] = []
        params = {"store": store, "parent": run.run_id, "call": call_id}
        child = (await core(session, _CHILD_OF_CALL, params)).first()
        if child is not None:
            child_id, child_session = child.id, child.session_id
        else:
            child_id, child_session, admitted = await self._start_executor(
                session, plan_id, step, attempt, start.message, start.max_steps, call_id
            )
        moved = await session.execute(
            update(PlanStepRow)
            .where(
                PlanStepRow.store_id == store,
                PlanStepRow.plan_id == plan_id,
                PlanStepRow.key == step.key,
                PlanStepRow.status == "pending",
                PlanStepRow.attempts == attempt - 1,
            )
            .values(status="running", attempts=attempt, executor_run_id=child_id, error=None)
        )
        if getattr(moved, "rowcount", 0):
            await log.append(
                session,
                store,
                [
                    self._event(
                        "plan.step_started",
                        {
                            "plan_id": plan_id,
                            "step_id": step.key,
                            "executor_run_id": child_id,
                            "attempt": attempt,
                        },
                    ),
                    self._event(
                        "executor.spawned",
                        {
                            "child_run_id": child_id,
                            "child_session_id": child_session,
                            "agent_id": run.agent_id,
                            "instruction": start.message,
                            "max_steps": start.max_steps,
                            "plan_id": plan_id,
                            "step_id": step.key,
                            "attempt": attempt,
                        },
                    ),
                ],
            )
        return admitted

    async def _start_executor(
        self,
        session: AsyncSession,
        plan_id: str,
        step: StepState,
        attempt: int,
        message: str,
        max_steps: int,
        call_id: str,
    ) -> tuple[str, str, list[str]]:
        run, store = self.run, self.run.store_id
        chat = await conversations.create_session(
            session,
            store,
            run.agent_id,
            title=f"executor: {step.title}"[:200],
            busy_policy="enqueue",
        )
        priority = await conversations.run_priority(session, store, run.run_id)
        submitted = await accept(
            session,
            Submission(
                store_id=store,
                session_id=chat.id,
                content=message,
                priority=priority or "normal",
                trigger="child",
                parent_run_id=run.run_id,
                parent_call_id=call_id,
                read_only=True,
                team_step={
                    "plan_id": plan_id,
                    "step_key": step.key,
                    "attempt": attempt,
                    "max_steps": max_steps,
                    "deadline": executor_deadline(run.deadline, time.time()),
                    "tools": list(step.tools),
                },
            ),
            admit=self.rt.admitter.budget(),
        )
        return submitted.run.id, chat.id, submitted.admitted

    async def end_attempt(self, plan_id: str, step: StepState, verdict: Verdict) -> None:
        store = self.run.store_id
        executor = step.executor_run_id
        assert executor is not None
        async with self.rt.db.write(self.run.store_id) as session:
            ran = (await core(session, _RUN_USAGE, {"store": store, "run": executor})).first()
            assert ran is not None
            status = {"completed": "completed", "failed": "failed", "retry": "pending"}[verdict]
            error = None if verdict == "completed" else (ran.error or f"the executor {ran.status}")
            moved = await session.execute(
                update(PlanStepRow)
                .where(
                    PlanStepRow.store_id == store,
                    PlanStepRow.plan_id == plan_id,
                    PlanStepRow.key == step.key,
                    PlanStepRow.status == "running",
                    PlanStepRow.executor_run_id == executor,
                )
                .values(
                    status=status,
                    result=step.result if verdict == "completed" else None,
                    error=error,
                    finished_at=None if verdict == "retry" else utcnow(),
                )
            )
            if not getattr(moved, "rowcount", 0):
                return
            events = [
                self._event(
                    "executor.result",
                    {
                        "child_run_id": executor,
                        "status": ran.status,
                        "text": step.result or "",
                        "usage": {
                            "input_tokens": ran.input_tokens,
                            "output_tokens": ran.output_tokens,
                        },
                        "error": ran.error,
                        "plan_id": plan_id,
                        "step_id": step.key,
                        "retry": verdict == "retry",
                    },
                )
            ]
            if verdict != "retry":
                events.append(
                    self._event(
                        "plan.step_completed",
                        {
                            "plan_id": plan_id,
                            "step_id": step.key,
                            "status": status,
                            "attempts": step.attempts,
                            "result": step.result if verdict == "completed" else None,
                            "error": error,
                        },
                    )
                )
            await log.append(session, store, events)

    async def skip_step(self, plan_id: str, step: StepState, reason: str) -> None:
        store = self.run.store_id
        async with self.rt.db.write(self.run.store_id) as session:
            moved = await session.execute(
                update(PlanStepRow)
                .where(
                    PlanStepRow.store_id == store,
                    PlanStepRow.plan_id == plan_id,
                    PlanStepRow.key == step.key,
                    PlanStepRow.status == "pending",
                )
                .values(status="skipped", error=reason, finished_at=utcnow())
            )
            if getattr(moved, "rowcount", 0):
                await log.append(
                    session,
                    store,
                    [
                        self._event(
                            "plan.step_completed",
                            {
                                "plan_id": plan_id,
                                "step_id": step.key,
                                "status": "skipped",
                                "attempts": step.attempts,
                                "result": None,
                                "error": reason,
                            },
                        )
                    ],
                )

    async def finish_plan(self, plan_id: str, status: str) -> None:
        async with self.rt.db.write(self.run.store_id) as session:
            await session.execute(
                update(PlanRow)
                .where(
                    PlanRow.store_id == self.run.store_id,
                    PlanRow.id == plan_id,
                    PlanRow.status == "running",
                )
                .values(status=status, finished_at=utcnow())
            )
