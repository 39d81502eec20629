"""The run as a DBOS workflow (workflow id = run id): start, the engine's loop, finish.

DBOS owns the workflow: its durable start, recovery after a crash (on restart, or by another
worker, ``workers``) and cancellation. Each execution claims the run before it writes
(``fencing``): a stale execution in a worker declared dead cannot commit a step.

Each step is checkpointed by the record it commits with its effects
(see ``step_store``): a replayed workflow runs the loop again and every step that committed
returns its record without acting, so the loop goes on from the first unfinished step. A
second checkpoint of the same output in DBOS's system database (``@DBOS.step``) would add
nothing but two thread hops and a write per step.

A run that waits for child runs is parked (``children.park``: ``waiting``, its slot given
back) and its workflow waits here until admission gives it a slot again, then runs the loop
once more. A replay of a parked run waits the same way before it runs.
"""

from __future__ import annotations

import logging

from dbos import DBOS, SetWorkflowID

from loopwright.engine.loop import Ports, run_turn
from loopwright.engine.ports import Toolset
from loopwright.engine.team import TeamSettings, run_team_turn
from loopwright.engine.toolsets import (
    ApprovalPolicy,
    AssignedOnly,
    NeedsApproval,
    RateLimited,
    ReadOnlyTools,
)
from loopwright.engine.types import RunSettings, TurnOutcome
from loopwright.runtime import children, failpoints, fencing, lifecycle, reflection, services
from loopwright.runtime.approvals import ApprovalsDesk
from loopwright.runtime.memory_context import MemoryContext
from loopwright.runtime.observed import ObservedTools
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.run_ports import (
    AgentModel,
    MeteredModel,
    SessionHistory,
    StoreRateLimit,
    StoreTools,
    SystemClock,
    TokenMeter,
)
from loopwright.runtime.step_store import DbStepStore
from loopwright.runtime.team_plans import DbPlans
from loopwright.telemetry import context as log_context
from loopwright.telemetry import tracing

logger = logging.getLogger("loopwright.runtime")


async def start_run(store_id: str, run_id: str) -> None:
    """Start an admitted run's workflow (idempotent: the workflow id is the run id); a parked
    run whose workflow waits in this process is woken instead."""
    if services.current().local.wake(run_id):
        return
    with SetWorkflowID(run_id):
        await DBOS.start_workflow_async(run_workflow, store_id, run_id)


def run_ports(rt: services.RunServices, plan: RunPlan, *, resumed: bool) -> Ports:
    agent_model = AgentModel(rt, plan)
    meter = TokenMeter(rt, plan)
    model: AgentModel | MeteredModel = (
        MeteredModel(agent_model, meter) if meter.active else agent_model
    )
    tools: Toolset = RateLimited(
        AssignedOnly(StoreTools(rt, plan), plan.tools), StoreRateLimit(rt, plan)
    )
    if plan.approval != "never" or plan.tool_approvals:
        policy: ApprovalPolicy = (
            "always"
            if plan.approval == "always"
            else "read_write"
            if plan.approval == "read_write"
            else "never"
        )
        tools = NeedsApproval(tools, ApprovalsDesk(rt, plan), policy, plan.tool_approvals)
    if plan.read_only:
        tools = ReadOnlyTools(tools)
    tools = ObservedTools(tools, plan.store_id)
    memory = MemoryContext(rt, plan, resumed=resumed) if plan.memory_budget > 0 else None
    steps = DbStepStore(
        rt,
        plan,
        resumed=resumed,
        on_ended=lambda admitted: rt.admitter.start_detached(plan.store_id, admitted),
        provider=lambda: model.provider,
        memory=memory,
        meter=meter if meter.active else None,
    )
    history = SessionHistory(rt, plan)
    return Ports(
        model=model,
        tools=tools,
        steps=steps,
        context=[memory, history] if memory is not None else [history],
        clock=SystemClock(),
    )


def run_settings(rt: services.RunServices, plan: RunPlan) -> RunSettings:
    return RunSettings(
        system_prompt=plan.system_prompt,
        temperature=plan.temperature,
        max_steps=plan.max_steps,
        deadline=plan.deadline,
        model_timeout_s=rt.settings.model_timeout_s,
        tool_timeout_s=rt.settings.tool_timeout_s,
    )


@DBOS.workflow(name="loopwright.run")
async def run_workflow(store_id: str, run_id: str) -> str:
    """An admitted run (see ``admission``), from start to finish."""
    rt = services.current()
    rt.admitter.running += 1
    rt.local.begin(run_id)
    owner = fencing.Owner.new(rt.worker.executor_id, rt.worker.incarnation)
    fencing.unguarded()
    try:
        failpoints.fail("workflow_error")
        started = await lifecycle.start(rt.db, store_id, run_id, owner)
        if started is None:
            return "skipped"
        fencing.guard_writes(store_id, run_id, owner)
        plan = started.plan
        log_context.for_run(store_id, plan.session_id, run_id)
        with tracing.run_span(
            started.trace,
            agent=plan.agent_id,
            store_id=store_id,
            run_id=run_id,
            session_id=plan.session_id,
            model=plan.models[0],
            started_at=started.started_at,
            resumed=started.resumed,
        ) as span:
            if started.parked and not await _wait_for_slot(rt, plan):
                tracing.end_run(span, "ended", None)
                return "ended"
            outcome = await _run(rt, plan, started.resumed)
            if outcome is None:
                tracing.end_run(span, "ended", None)
                return "ended"
            tracing.end_run(span, outcome.status, outcome.stop_reason)
        return outcome.status
    except fencing.Fenced:
        # This worker was declared dead: a newer execution owns the run (or will).
        logger.error("run %s: this worker lost it to a live one", run_id)
        fencing.exit_fenced()
        raise
    finally:
        rt.local.forget(run_id)
        rt.admitter.running -= 1


async def _run(rt: services.RunServices, plan: RunPlan, resumed: bool) -> TurnOutcome | None:
    """The loop until the run ends (parking while it waits for children); its outcome, None
    if it ended while parked."""
    store_id, run_id = plan.store_id, plan.run_id
    ports = run_ports(rt, plan, resumed=resumed)
    while True:
        outcome = await _turn(rt, plan, ports)
        if outcome.status != "waiting":
            break
        rt.admitter.start_detached(store_id, await children.park(rt, plan, outcome.waiting_on))
        if not await _wait_for_slot(rt, plan):
            return None
        assert isinstance(ports.steps, DbStepStore)
        ports.steps.resume()
    if not outcome.recorded:
        ended = await lifecycle.finish(
            rt.db,
            store_id,
            run_id,
            outcome.status,
            stop_reason=outcome.stop_reason,
            error=outcome.error,
            admit=rt.admitter.budget(),
        )
        rt.admitter.start_detached(store_id, ended.admitted if ended else [])
    return outcome


async def _turn(rt: services.RunServices, plan: RunPlan, ports: Ports) -> TurnOutcome:
    settings = run_settings(rt, plan)
    try:
        if plan.mode == "reflect":
            return await reflection.run(rt, plan)
        if plan.mode == "team":
            return await run_team_turn(ports, settings, DbPlans(rt, plan), TeamSettings())
        return await run_turn(ports, settings)
    except Exception as exc:  # a defect, not a model or tool failure: fail the run
        logger.exception("run %s failed", plan.run_id)
        return TurnOutcome("failed", "internal_error", f"{type(exc).__name__}: {exc}")


async def _wait_for_slot(rt: services.RunServices, plan: RunPlan) -> bool:
    """Parked: this worker does not count the run while it waits for a slot."""
    rt.admitter.running -= 1
    try:
        woken = await children.wait_for_slot(rt, plan)
    finally:
        rt.admitter.running += 1
    return woken.running
