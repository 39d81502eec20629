"""One run of the loop: model request → tool calls (concurrently) → model request … → outcome.

Every decision of a run is made here: what the model reads (the context sources), what it is
offered (the toolset), which calls may run, and how the run ends — a final answer, the step
limit, the deadline, the token budget, a failure, a cancel, or ``waiting`` for child runs or
approvals. The state is the step index; everything else is read from and written to the
ports, so the loop resumes at any step: the step store returns what a finished step recorded.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_ai.settings import ModelSettings

from loopwright.engine.calls import tool_calls_of
from loopwright.engine.history import build_context
from loopwright.engine.ports import Clock, ContextSource, ModelPort, StepStore, Toolset
from loopwright.engine.types import (
    CallContext,
    Cancelled,
    ModelStep,
    OverBudget,
    RunSettings,
    ToolCall,
    ToolOutcome,
    ToolResult,
    TurnOutcome,
)
from loopwright.errors import LoopwrightError
from loopwright.llm.errors import ProviderError

FINAL_ANSWER = TurnOutcome("completed", "final_answer")
PAST_DEADLINE = "the run's time limit passed"
CANCELLED = TurnOutcome("cancelled", "cancelled")


@dataclass(frozen=True, slots=True)
class Ports:
    model: ModelPort
    tools: Toolset
    steps: StepStore
    context: Sequence[ContextSource]
    clock: Clock


class _TimedOut(Exception):
    pass


async def run_turn(ports: Ports, run: RunSettings, *, first: int = 0) -> TurnOutcome:
    """The loop from model request ``first`` (team mode plans with the requests before it)."""
    for index in range(first, run.max_steps):
        step = await model_step_or_stop(ports, run, index)
        if isinstance(step, TurnOutcome):
            return step
        if not step.tool_calls:
            return TurnOutcome(FINAL_ANSWER.status, FINAL_ANSWER.stop_reason, recorded=True)
        results = await tool_calls_or_stop(ports, run, index, step.tool_calls)
        if isinstance(results, TurnOutcome):
            return results
        waiting = tuple(i for r in results for i in r.waiting_on)
        if waiting:
            return TurnOutcome("waiting", "waiting", waiting_on=waiting)
    return TurnOutcome("max_steps", "max_steps", f"stopped after {run.max_steps} model steps")


async def model_step_or_stop(ports: Ports, run: RunSettings, index: int) -> ModelStep | TurnOutcome:
    """Request ``index`` answered (or its record), or how the run ends instead."""
    try:
        return await _model_step(ports, run, index)
    except _TimedOut:
        return TurnOutcome("timed_out", "timeout", PAST_DEADLINE)
    except Cancelled:
        return CANCELLED
    except OverBudget as exc:
        return TurnOutcome("failed", "budget", str(exc))
    except ProviderError as exc:
        return TurnOutcome("failed", "model_error", f"{exc.provider}: {exc.message}")
    except LoopwrightError as exc:  # the model cannot be had (unknown, removed)
        return TurnOutcome("failed", "model_error", exc.message)
    except TimeoutError:
        return TurnOutcome(
            "failed",
            "model_error",
            f"the model did not answer within {run.model_timeout_s:.0f} s",
        )


async def tool_calls_or_stop(
    ports: Ports, run: RunSettings, index: int, calls: Sequence[ToolCall]
) -> list[ToolResult] | TurnOutcome:
    """The results of a step's calls (run concurrently), or how the run ends instead."""
    results = await asyncio.gather(*(_tool_call(ports, run, index, call) for call in calls))
    if _STOPPED_BY_DEADLINE in results:
        return TurnOutcome("timed_out", "timeout", PAST_DEADLINE)
    if _STOPPED_BY_CANCEL in results:
        return CANCELLED
    return [r for r in results if isinstance(r, ToolResult)]


async def _model_step(ports: Ports, run: RunSettings, index: int) -> ModelStep:
    if ports.steps.resumed and (recorded := await ports.steps.model_step(index)) is not None:
        return recorded
    remaining = run.deadline - ports.clock.now()
    if remaining <= 0:
        raise _TimedOut
    items = [item for source in ports.context for item in await source.items()]
    context = build_context(run.system_prompt, items)
    tools = [tool.definition for tool in (await ports.tools.available()).values()]
    settings = ModelSettings(temperature=run.temperature) if run.temperature is not None else {}
    budget = min(run.model_timeout_s, remaining)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(budget):
            response = await ports.model.request(index, context, tools, settings)
    except TimeoutError:
        if ports.clock.now() >= run.deadline:
            raise _TimedOut from None
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    calls = tool_calls_of(response)
    return await ports.steps.record_model_step(
        index, response, latency_ms, None if calls else FINAL_ANSWER
    )


class _Stopped(enum.Enum):
    DEADLINE = "deadline"
    CANCEL = "cancel"


_STOPPED_BY_DEADLINE, _STOPPED_BY_CANCEL = _Stopped.DEADLINE, _Stopped.CANCEL


async def _tool_call(
    ports: Ports, run: RunSettings, index: int, call: ToolCall
) -> ToolResult | _Stopped:
    """The call's result, or why the run stopped before it had one."""
    try:
        if ports.steps.resumed and (recorded := await ports.steps.tool_result(call)) is not None:
            return recorded
        remaining = run.deadline - ports.clock.now()
        if remaining <= 0:
            return _STOPPED_BY_DEADLINE
        toolset = ports.tools
        route = toolset.route(call)

        async def work(ctx: CallContext) -> ToolOutcome:
            if call.arguments_error:
                return ToolOutcome.refused(call.arguments_error)
            return await toolset.call(call, ctx)

        timeout_s = min(run.tool_timeout_s, max(0.1, remaining))
        return await ports.steps.run_tool_call(index, call, route, work, timeout_s)
    except Cancelled:
        return _STOPPED_BY_CANCEL
