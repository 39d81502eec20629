"""The run as a DBOS workflow (workflow id = run id): start, then the engine's loop with each
model request and each tool call as its own step, then finish.

DBOS owns the workflow: its durable start, the queue, recovery after a crash (on restart, or by
another worker) and cancellation. Each step is checkpointed in the application database, by
the record it commits in the same transaction as its effects: the model step's ``run_steps``
row beside the assistant message, the tool step's ``tool_calls`` row beside the tool's domain
rows and events (see ``model_exec`` and ``tool_exec``). A replayed workflow runs the loop again;
every step that committed finds its record and returns it without acting, so the loop goes on
from the first unfinished step. A second checkpoint of the same output in DBOS's system
database (``@DBOS.step``) would add nothing but two thread hops and a write per step.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

from dbos import DBOS, SetWorkflowID

from loopwright.engine.turn import (
    ModelStep,
    ToolCall,
    ToolResult,
    TurnOutcome,
    run_turn,
)
from loopwright.runtime import failpoints, lifecycle, services
from loopwright.runtime.model_exec import run_model_step
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.tool_exec import run_tool_step

logger = logging.getLogger("loopwright.runtime")


async def finish_step(plan: RunPlan, outcome: TurnOutcome, *, admitted: list[str] | None) -> None:
    """``admitted``: the run's completion already committed with its final model step, which
    admitted these runs into its slot."""
    rt = services.current()
    if admitted is None:
        ended = await lifecycle.finish(
            rt.db,
            plan.store_id,
            plan.run_id,
            outcome.status,
            stop_reason=outcome.stop_reason,
            error=outcome.error,
            admit=rt.admitter.budget(),
        )
        admitted = ended.admitted if ended else []
    start_in_background(plan.store_id, admitted)


def start_in_background(store_id: str, run_ids: list[str]) -> None:
    """Start the runs admitted into a finished run's slot, outside any DBOS context (a
    workflow starting them would make them its children); the sweep starts them if this
    process dies first."""
    if not run_ids:
        return
    rt = services.current()
    loop = asyncio.get_running_loop()
    task = loop.create_task(rt.admitter.start_all(store_id, run_ids), context=contextvars.Context())
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()


async def start_run(store_id: str, run_id: str) -> None:
    """Start an admitted run's workflow (idempotent: the workflow id is the run id)."""
    with SetWorkflowID(run_id):
        await DBOS.start_workflow_async(run_workflow, store_id, run_id)


class _RecordedPorts:
    """The engine's ports, each step idempotent on its record in the application database.

    ``resumed``: the run started before (a replay), so a step may find its record. A run
    starting for the first time has none and skips the lookups; a step that races a
    concurrent replay still meets the record's unique key when it commits."""

    def __init__(self, rt: services.RunServices, plan: RunPlan, *, resumed: bool) -> None:
        self.rt = rt
        self.plan = plan
        self.resumed = resumed
        self.ended: list[str] | None = None
        """Set when the final model step committed the run's completion: the runs it admitted."""

    async def model_step(self, index: int) -> ModelStep:
        done = await run_model_step(self.rt, self.plan, index, resumed=self.resumed)
        self.ended = done.ended.admitted if done.ended else None
        return done.step

    async def tool_call(self, index: int, call: ToolCall) -> ToolResult:
        return await run_tool_step(self.rt, self.plan, index, call, resumed=self.resumed)


@DBOS.workflow(name="loopwright.run")
async def run_workflow(store_id: str, run_id: str) -> str:
    """An admitted run (see ``admission``), from start to finish."""
    rt = services.current()
    rt.admitter.running += 1
    rt.local.begin(run_id)
    try:
        failpoints.fail("workflow_error")
        started = await lifecycle.start(rt.db, store_id, run_id)
        if started is None:
            return "skipped"
        plan = started.plan
        ports = _RecordedPorts(rt, plan, resumed=started.resumed)
        try:
            outcome = await run_turn(ports, max_steps=plan.max_steps)
        except Exception as exc:  # a defect, not a model or tool failure: fail the run
            logger.exception("run %s failed", run_id)
            outcome = TurnOutcome("failed", "internal_error", f"{type(exc).__name__}: {exc}")
        await finish_step(plan, outcome, admitted=ports.ended)
        return outcome.status
    finally:
        rt.local.forget(run_id)
        rt.admitter.running -= 1
