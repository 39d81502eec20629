"""The loop as a library: scripted model, Python tools, in-memory steps (no database, no DBOS)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo

from loopwright.engine.loop import Ports, run_turn
from loopwright.engine.toolsets import AssignedOnly, RateLimited, ReadOnlyTools
from loopwright.engine.types import CallContext, Cancelled, RunSettings, ToolCall, ToolOutcome
from loopwright.llm.errors import ProviderError
from loopwright.testing import (
    Conversation,
    FakeClock,
    FunctionToolset,
    MemorySteps,
    ScriptedModel,
    call_tool,
    run_agent,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "tool_loop.py"


def add(a: int, b: int) -> int:
    """a + b"""
    return a + b


def create_note(text: str) -> str:
    """Write a note."""
    return "noted"


def returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [p for m in messages for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]


async def test_tools_then_final_answer_completes() -> None:
    model = ScriptedModel.replies(call_tool("add", {"a": 2, "b": 3}), "It is 5.")
    run = await run_agent(model, FunctionToolset(add), "What is 2 + 3?")
    assert (run.outcome.status, run.outcome.stop_reason) == ("completed", "final_answer")
    assert run.outcome.recorded  # the final answer ends the run with the reply
    assert run.answer == "It is 5."
    assert [r.content for r in returns(model.requests[1])] == [5]


async def test_independent_tool_calls_run_concurrently() -> None:
    arrived, everyone = 0, asyncio.Event()

    async def meet(name: str) -> str:
        """Returns once three calls are in flight at once."""
        nonlocal arrived
        arrived += 1
        if arrived == 3:
            everyone.set()
        await asyncio.wait_for(everyone.wait(), timeout=5)
        return name

    parts = [ToolCallPart("meet", {"name": n}, tool_call_id=n) for n in "abc"]
    model = ScriptedModel.replies(ModelResponse(parts=parts), "done")
    run = await run_agent(model, FunctionToolset(meet))
    assert run.outcome.status == "completed"
    assert sorted(r.content for r in returns(model.requests[1])) == ["a", "b", "c"]


async def test_a_model_that_never_stops_calling_tools_hits_max_steps() -> None:
    def always(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return call_tool("add", {"a": 1, "b": 1}, call_id=f"c{len(messages)}")

    run = await run_agent(ScriptedModel(always), FunctionToolset(add), "go", max_steps=3)
    assert (run.outcome.status, run.outcome.stop_reason) == ("max_steps", "max_steps")
    assert len(run.steps.model_steps) == 3


async def test_model_failure_fails_the_run_with_its_reason() -> None:
    def broken(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise ProviderError("overloaded", provider="fake")

    run = await run_agent(ScriptedModel(broken), prompt="hi")
    assert (run.outcome.status, run.outcome.error) == ("failed", "fake: overloaded")


async def test_the_deadline_times_the_run_out_before_a_tool_runs() -> None:
    clock = FakeClock()
    tools = FunctionToolset(add)

    def slow(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        clock.advance(120)  # the model took two minutes
        return call_tool("add", {"a": 1, "b": 2})

    run = await run_agent(ScriptedModel(slow), tools, "hi", clock=clock, timeout_s=60)
    assert (run.outcome.status, run.outcome.stop_reason) == ("timed_out", "timeout")
    assert tools.calls == []


async def test_a_tool_error_is_a_result_the_model_reads() -> None:
    def explode() -> None:
        """Fails."""
        raise RuntimeError("disk full")

    model = ScriptedModel.replies(call_tool("explode", {}), "Sorry.")
    run = await run_agent(model, FunctionToolset(explode), "go")
    assert run.outcome.status == "completed"
    [result] = returns(model.requests[1])
    assert result.outcome == "failed" and "disk full" in str(result.content)


async def test_bad_tool_json_is_refused_without_running_the_tool() -> None:
    tools = FunctionToolset(add)
    bad = ModelResponse([ToolCallPart("add", "{not json", tool_call_id="x")])
    model = ScriptedModel.replies(bad, "ok")
    await run_agent(model, tools, "go")
    assert tools.calls == []
    assert "not JSON" in str(returns(model.requests[1])[0].content)


async def test_wrappers_hide_and_refuse_tools() -> None:
    """Only-assigned and read-only are wrappers: the model is not offered what it may not
    use, and a call naming it anyway is refused."""
    inner = FunctionToolset(add, create_note, writes=["create_note"])
    tools = ReadOnlyTools(AssignedOnly(inner, ["add", "create_note"]))
    assert set(await tools.available()) == {"add"}
    ctx = CallContext(0, 5.0)
    refused = await tools.call(ToolCall("1", "create_note", {"text": "x"}), ctx)
    assert refused.status == "refused" and "read-only" in refused.content["error"]
    unassigned = await AssignedOnly(inner, ["add"]).call(ToolCall("2", "create_note", {}), ctx)
    assert unassigned.status == "refused" and "not assigned" in unassigned.content["error"]
    assert inner.calls == []


async def test_rate_limit_is_a_wrapper_with_its_own_counter() -> None:
    class OnePerRun:
        used = 0

        async def refusal(self, tool: str, ctx: CallContext) -> str | None:
            self.used += 1
            return "rate limited" if self.used > 1 else None

    tools = RateLimited(FunctionToolset(add), OnePerRun())
    ctx = CallContext(0, 5.0)
    assert (await tools.call(ToolCall("1", "add", {"a": 1, "b": 1}), ctx)).status == "ok"
    assert (await tools.call(ToolCall("2", "add", {"a": 1, "b": 1}), ctx)).status == "refused"


def _ports(model: ScriptedModel, tools: Any, steps: MemorySteps) -> Ports:
    return Ports(model, tools, steps, [_Source(steps.conversation)], FakeClock())


class _Source:
    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation

    async def items(self) -> list[Any]:
        return list(self.conversation.items)


SETTINGS = RunSettings("", None, 10, FakeClock().now() + 60, 60, 60)


async def test_a_run_waits_for_children_and_resumes_without_repeating_steps() -> None:
    """A tool that started child runs makes the turn ``waiting``; run again once they ended,
    the loop repeats no finished model request and no finished tool call."""
    children_done = False
    calls: list[str] = []

    class Delegating(FunctionToolset):
        async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
            calls.append(call.name)
            if call.name == "ask" and not children_done:
                return ToolOutcome("ok", None, waiting_on=("run_child",))
            return await super().call(call, ctx)

    def ask(question: str) -> str:
        """Ask another agent."""
        return "the child's answer"

    reply = ModelResponse(
        [
            ToolCallPart("ask", {"question": "?"}, tool_call_id="c1"),
            ToolCallPart("add", {"a": 1, "b": 2}, tool_call_id="c2"),
        ]
    )
    model = ScriptedModel.replies(reply, "Both done.")
    conversation = Conversation()
    conversation.say("go")
    steps = MemorySteps(conversation)
    ports = _ports(model, Delegating(ask, add), steps)

    first = await run_turn(ports, SETTINGS)
    assert (first.status, first.waiting_on) == ("waiting", ("run_child",))
    children_done = True
    steps.resume()
    second = await run_turn(ports, SETTINGS)
    assert second.status == "completed"
    assert len(model.requests) == 2  # the first request was not sent again
    assert calls == ["ask", "add", "ask"]  # the finished call ran once
    assert sorted(str(r.content) for r in returns(model.requests[1])) == ["3", "the child's answer"]


async def test_a_cancelled_tool_call_cancels_the_turn() -> None:
    class Cancelling(FunctionToolset):
        async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
            raise Cancelled("run_x")

    steps = MemorySteps(Conversation())
    model = ScriptedModel.replies(call_tool("add", {"a": 1, "b": 1}))
    outcome = await run_turn(_ports(model, Cancelling(add), steps), SETTINGS)
    assert (outcome.status, outcome.stop_reason) == ("cancelled", "cancelled")


async def test_the_example_runs() -> None:
    spec = importlib.util.spec_from_file_location("tool_loop_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert await module.main() == "Four pears cost 3.00 euros."
