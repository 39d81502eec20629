"""A team agent's turn: the planner routes the message, plans complex ones, the plan's steps run
as read-only executor child runs (independent ones at once), and the planner writes the final
answer from their results.

Like ``run_turn`` the turn is replayable: the planner's requests and its decision are recorded
steps, and the plan's state (each step's status, attempts and executor) lives behind the
``PlanPort``, so a resumed turn goes on from where the record stands. Each pass over the plan
ends the executors it finds finished (retrying a failed one a bounded number of times),
starts the steps whose dependencies are met, and waits (``waiting``) while any executor runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from loopwright.domain.vocabulary import TERMINAL_RUN_STATUSES
from loopwright.engine.history import HistoryItem
from loopwright.engine.loop import (
    PAST_DEADLINE,
    Ports,
    model_step_or_stop,
    run_turn,
    tool_calls_or_stop,
)
from loopwright.engine.ports import ToolInfo, ToolRoute, Toolset
from loopwright.engine.team_plan import (
    DECIDE_DEFINITION,
    DECIDE_TOOL,
    PLANNER_INSTRUCTIONS,
    SYNTHESIS_INSTRUCTIONS,
    Decision,
    check_decision,
)
from loopwright.engine.toolsets import ReadOnlyTools, WrapperToolset
from loopwright.engine.types import CallContext, RunSettings, ToolCall, ToolOutcome, TurnOutcome

StepStatus = Literal["pending", "running", "completed", "failed", "skipped"]
Verdict = Literal["completed", "failed", "retry"]


@dataclass(frozen=True, slots=True)
class StepState:
    """One plan step as the record has it."""

    key: str
    title: str
    instructions: str
    depends_on: tuple[str, ...]
    tools: tuple[str, ...]
    status: StepStatus
    attempts: int
    executor_run_id: str | None
    executor_status: str | None  # the current attempt's run (None: no attempt yet)
    result: str | None  # the step's result, or the current executor's answer
    error: str | None
    spent: int = 0  # model steps used by this step's ended executors
    reserved: int = 0  # model steps allotted to its running executor


@dataclass(frozen=True, slots=True)
class StepStart:
    """An executor to start: the step, its attempt, its message and its share of steps."""

    step: StepState
    attempt: int
    message: str
    max_steps: int


class PlanPort(Protocol):
    """Where plans live and executors start (the runtime: tables, child runs, events)."""

    async def record_decision(self, decision: Decision, ctx: CallContext) -> str | None:
        """Announce the routing (``analysis``) and, for ``complex``, persist the plan
        (``plan.created``) in the decision call's transaction; the plan's id."""
        ...

    async def steps(self, plan_id: str) -> list[StepState]: ...

    async def start_steps(self, plan_id: str, starts: Sequence[StepStart]) -> None:
        """Start each step's executor (its attempt ``attempt``) unless that attempt started,
        all in one commit."""
        ...

    async def end_attempt(self, plan_id: str, step: StepState, verdict: Verdict) -> None:
        """Record the end of the step's running executor: the step completed, failed, or
        goes back to pending for another attempt."""
        ...

    async def skip_step(self, plan_id: str, step: StepState, reason: str) -> None: ...

    async def finish_plan(self, plan_id: str, status: str) -> None: ...


@dataclass(frozen=True, slots=True)
class TeamSettings:
    max_corrections: int = 2  # invalid decisions the planner may correct before the run fails
    max_retries: int = 1  # further attempts of a failed step
    executor_max_steps: int = 8  # model steps of one executor attempt, at most


class NoTools:
    """Offers nothing (the direct answer and the synthesis); a call named anyway is refused."""

    async def available(self) -> Mapping[str, ToolInfo]:
        return {}

    def route(self, call: ToolCall) -> ToolRoute:
        return ToolRoute(call.name, "transaction")

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        return ToolOutcome.refused(f"no tools are available now (asked for {call.name!r})")


class PlannerTools(WrapperToolset):
    """The planner's read-only tools and ``team_decide``, whose call is checked and recorded."""

    def __init__(
        self, inner: Toolset, plans: PlanPort, executor_tools: frozenset[str], max_steps: int
    ) -> None:
        super().__init__(inner)
        self.plans = plans
        self.executor_tools = executor_tools
        self.max_steps = max_steps

    async def available(self) -> Mapping[str, ToolInfo]:
        found = dict(await self.inner.available())
        found[DECIDE_TOOL] = ToolInfo(DECIDE_TOOL, True, DECIDE_DEFINITION, "transaction")
        return found

    def route(self, call: ToolCall) -> ToolRoute:
        if call.name == DECIDE_TOOL:
            return ToolRoute(DECIDE_TOOL, "transaction")
        return self.inner.route(call)

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        if call.name != DECIDE_TOOL:
            return await self.inner.call(call, ctx)
        checked = check_decision(
            call.arguments,
            executor_tools=self.executor_tools,
            step_budget=executor_budget(self.max_steps, ctx.index + 1),
        )
        if isinstance(checked, str):
            return ToolOutcome("error", {"error": checked})
        plan_id = await self.plans.record_decision(checked, ctx)
        content: dict[str, object] = {"route": checked.route, "reason": checked.reason}
        if plan_id is not None and checked.plan is not None:
            content |= {"plan_id": plan_id, "steps": len(checked.plan.steps)}
        return ToolOutcome("ok", content)


def executor_budget(max_steps: int, next_index: int) -> int:
    """The model steps the executors share: what the planner has left after its decision,
    less one for the synthesis."""
    return max_steps - next_index - 1


async def run_team_turn(
    ports: Ports, run: RunSettings, plans: PlanPort, team: TeamSettings
) -> TurnOutcome:
    read_only = ReadOnlyTools(ports.tools)
    executor_tools = frozenset(tool.name for tool in (await read_only.available()).values())
    planner = dataclasses.replace(
        ports, tools=PlannerTools(read_only, plans, executor_tools, run.max_steps)
    )
    planning = dataclasses.replace(
        run, system_prompt=_join(run.system_prompt, PLANNER_INSTRUCTIONS)
    )
    decided = await _decide(planner, planning, team)
    if isinstance(decided, TurnOutcome):
        return decided
    index, content = decided
    if content["route"] == "simple":
        return await run_turn(dataclasses.replace(ports, tools=NoTools()), run, first=index + 1)
    if content["route"] == "tool":
        return await run_turn(ports, run, first=index + 1)
    plan_id = str(content["plan_id"])
    if ports.clock.now() >= run.deadline:  # start no executor that could not run
        return TurnOutcome("timed_out", "timeout", PAST_DEADLINE)
    budget = executor_budget(run.max_steps, index + 1)
    running = await advance_plan(plans, plan_id, team, budget)
    if running:
        return TurnOutcome("waiting", "waiting", waiting_on=running)
    steps = await plans.steps(plan_id)
    await plans.finish_plan(plan_id, plan_status(steps))
    synthesis = dataclasses.replace(
        ports, tools=NoTools(), context=[*ports.context, StepResults(steps)]
    )
    settings = dataclasses.replace(
        run, system_prompt=_join(run.system_prompt, SYNTHESIS_INSTRUCTIONS)
    )
    return await run_turn(synthesis, settings, first=index + 1)


async def _decide(
    planner: Ports, run: RunSettings, team: TeamSettings
) -> tuple[int, dict[str, object]] | TurnOutcome:
    """The index of the request that decided, and the recorded decision; or how the run
    ended instead (a direct answer without a decision ends it ``completed``)."""
    corrections = 0
    for index in range(run.max_steps):
        step = await model_step_or_stop(planner, run, index)
        if isinstance(step, TurnOutcome):
            return step
        if not step.tool_calls:
            return TurnOutcome("completed", "final_answer", recorded=True)
        results = await tool_calls_or_stop(planner, run, index, step.tool_calls)
        if isinstance(results, TurnOutcome):
            return results
        waiting = tuple(i for r in results for i in r.waiting_on)
        if waiting:
            return TurnOutcome("waiting", "waiting", waiting_on=waiting)
        decisions = [r for r in results if r.name == DECIDE_TOOL]
        accepted = next((r for r in decisions if r.ok and isinstance(r.content, dict)), None)
        if accepted is not None:
            return index, dict(accepted.content)
        if decisions:
            corrections += 1
            if corrections > team.max_corrections:
                last = decisions[-1].content
                why = last.get("error") if isinstance(last, dict) else last
                return TurnOutcome(
                    "failed",
                    "invalid_plan",
                    f"the planner's decision was invalid {corrections} times; the last: {why}",
                )
    return TurnOutcome("max_steps", "max_steps", f"stopped after {run.max_steps} model steps")


async def advance_plan(
    plans: PlanPort, plan_id: str, team: TeamSettings, budget: int
) -> tuple[str, ...]:
    """Move the plan as far as its record allows; the executors still running."""
    while True:
        steps = await plans.steps(plan_id)
        if await _end_finished(plans, plan_id, steps, team, budget):
            continue
        if await _start_ready(plans, plan_id, steps, team, budget):
            continue
        return tuple(
            s.executor_run_id for s in steps if s.status == "running" and s.executor_run_id
        )


async def _end_finished(
    plans: PlanPort, plan_id: str, steps: list[StepState], team: TeamSettings, budget: int
) -> bool:
    acted = False
    for step in steps:
        if step.status != "running" or step.executor_status not in TERMINAL_RUN_STATUSES:
            continue
        verdict: Verdict = "completed"
        if step.executor_status != "completed":
            # an executor that ran out of the run's time would run out again
            retry = (
                step.attempts <= team.max_retries
                and step.executor_status != "timed_out"
                and _left(steps, budget) >= 1
            )
            verdict = "retry" if retry else "failed"
        await plans.end_attempt(plan_id, step, verdict)
        acted = True
    return acted


async def _start_ready(
    plans: PlanPort, plan_id: str, steps: list[StepState], team: TeamSettings, budget: int
) -> bool:
    """Skip one step that can no longer run, or start every step whose dependencies
    completed (in one commit), each with an equal share of the steps left."""
    by_key = {s.key: s for s in steps}
    pending = [s for s in steps if s.status == "pending"]
    ready: list[tuple[StepState, list[StepState]]] = []
    for step in pending:
        deps = [by_key[k] for k in step.depends_on if k in by_key]
        blocked = next((d for d in deps if d.status in ("failed", "skipped")), None)
        if blocked is not None:
            reason = f"step {blocked.key!r} it depends on {blocked.status}"
            await plans.skip_step(plan_id, step, reason)
            return True
        if all(d.status == "completed" for d in deps):
            ready.append((step, deps))
    if not ready:
        return False
    allot = min(team.executor_max_steps, _left(steps, budget) // len(pending))
    if allot < 1:
        await plans.skip_step(plan_id, ready[0][0], "the team run's model steps are spent")
        return True
    await plans.start_steps(
        plan_id,
        [
            StepStart(step, step.attempts + 1, executor_message(step, deps), allot)
            for step, deps in ready
        ],
    )
    return True


def _left(steps: Sequence[StepState], budget: int) -> int:
    return budget - sum(s.spent + s.reserved for s in steps)


def executor_message(step: StepState, deps: Sequence[StepState]) -> str:
    message = f"{step.title}\n\n{step.instructions}"
    if deps:
        results = "\n".join(f"- {d.title}: {d.result or ''}" for d in deps)
        message += f"\n\nResults of the steps this one depends on:\n{results}"
    return message


def plan_status(steps: Sequence[StepState]) -> str:
    done = sum(1 for s in steps if s.status == "completed")
    if done == len(steps):
        return "completed"
    return "failed" if done == 0 else "partial"


class StepResults:
    """The plan's results, read by the synthesis after the conversation."""

    def __init__(self, steps: Sequence[StepState]) -> None:
        self.steps = steps

    async def items(self) -> Sequence[HistoryItem]:
        return [HistoryItem("user", results_text(self.steps), {})]


def results_text(steps: Sequence[StepState]) -> str:
    lines = ["Results of the plan's steps:"]
    for number, step in enumerate(steps, 1):
        if step.status == "completed":
            lines.append(f"{number}. {step.title} (completed):\n{step.result or ''}")
        else:
            why = step.error or "no result"
            tries = f" after {step.attempts} attempts" if step.attempts > 1 else ""
            lines.append(f"{number}. {step.title} ({step.status}{tries}): {why}")
    return "\n\n".join(lines)


def _join(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)
