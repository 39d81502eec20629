"""The loop as a state machine, against in-memory ports (no database, no DBOS)."""

from __future__ import annotations

import asyncio

from loopwright.engine.turn import ModelStep, ToolCall, ToolResult, run_turn


class ScriptedPorts:
    """Model steps from a script; tool calls recorded, optionally waiting on each other."""

    def __init__(self, steps: list[ModelStep], barrier: int = 0) -> None:
        self.steps = steps
        self.model_calls: list[int] = []
        self.tool_calls: list[tuple[int, str]] = []
        self._arrived = 0
        self._all_arrived = asyncio.Event()
        self._barrier = barrier

    async def model_step(self, index: int) -> ModelStep:
        self.model_calls.append(index)
        return self.steps[min(index, len(self.steps) - 1)]

    async def tool_call(self, index: int, call: ToolCall) -> ToolResult:
        self.tool_calls.append((index, call.call_id))
        if self._barrier:
            self._arrived += 1
            if self._arrived == self._barrier:
                self._all_arrived.set()
            # Only completes if every call of the step is in flight at once.
            await asyncio.wait_for(self._all_arrived.wait(), timeout=5)
        return ToolResult(call.call_id, call.name, True, {"ok": True})


def calls(*ids: str) -> list[ToolCall]:
    return [ToolCall(i, "list_tasks", {}) for i in ids]


async def test_tools_then_final_answer_completes() -> None:
    ports = ScriptedPorts([ModelStep(0, "ok", calls("a")), ModelStep(1, "ok", [])])
    outcome = await run_turn(ports, max_steps=5)
    assert (outcome.status, outcome.stop_reason) == ("completed", "final_answer")
    assert ports.model_calls == [0, 1]
    assert ports.tool_calls == [(0, "a")]


async def test_independent_tool_calls_run_concurrently() -> None:
    ports = ScriptedPorts(
        [ModelStep(0, "ok", calls("a", "b", "c")), ModelStep(1, "ok", [])], barrier=3
    )
    outcome = await run_turn(ports, max_steps=5)
    assert outcome.status == "completed"
    assert sorted(c for _, c in ports.tool_calls) == ["a", "b", "c"]


async def test_a_model_that_never_stops_calling_tools_hits_max_steps() -> None:
    ports = ScriptedPorts([ModelStep(0, "ok", calls("x"))])
    outcome = await run_turn(ports, max_steps=3)
    assert (outcome.status, outcome.stop_reason) == ("max_steps", "max_steps")
    assert ports.model_calls == [0, 1, 2]


async def test_model_failure_and_timeout_end_the_turn() -> None:
    failed = await run_turn(ScriptedPorts([ModelStep(0, "failed", error="boom")]), max_steps=3)
    assert (failed.status, failed.error) == ("failed", "boom")
    timed = await run_turn(ScriptedPorts([ModelStep(0, "timed_out")]), max_steps=3)
    assert (timed.status, timed.stop_reason) == ("timed_out", "timeout")


async def test_a_tool_that_hits_the_run_deadline_times_the_run_out() -> None:
    class Late(ScriptedPorts):
        async def tool_call(self, index: int, call: ToolCall) -> ToolResult:
            return ToolResult(call.call_id, call.name, False, {}, run_timed_out=True)

    outcome = await run_turn(Late([ModelStep(0, "ok", calls("a"))]), max_steps=3)
    assert outcome.status == "timed_out"
