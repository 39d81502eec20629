"""One run of the loop: model step → tool calls (concurrently) → model step … → an outcome.

The state is explicit and small (the step index); everything else is read from and written
to the ports, so the loop can resume at any step: a port that already did a step returns
what it recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from loopwright.domain.vocabulary import RunStatus

StepStatus = Literal["ok", "failed", "timed_out"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]
    # Set when the model's arguments were not a JSON object: the call fails without running.
    arguments_error: str | None = None


@dataclass(frozen=True, slots=True)
class ModelStep:
    index: int
    status: StepStatus
    tool_calls: list[ToolCall] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    name: str
    ok: bool
    content: Any
    run_timed_out: bool = False


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    status: RunStatus
    stop_reason: str
    error: str | None = None


# A reply without tool calls ends the turn. The runtime commits that ending with the reply.
FINAL_ANSWER = TurnOutcome("completed", "final_answer")


class TurnPorts(Protocol):
    async def model_step(self, index: int) -> ModelStep:
        """Request the model with the persisted context; persist and return its reply."""

    async def tool_call(self, index: int, call: ToolCall) -> ToolResult:
        """Run one tool call (exactly once for built-in tools) and persist its result."""


async def run_turn(ports: TurnPorts, *, max_steps: int) -> TurnOutcome:
    for index in range(max_steps):
        step = await ports.model_step(index)
        if step.status == "failed":
            return TurnOutcome("failed", "model_error", step.error)
        if step.status == "timed_out":
            return TurnOutcome("timed_out", "timeout", step.error)
        if not step.tool_calls:
            return FINAL_ANSWER
        results = await asyncio.gather(*(ports.tool_call(index, c) for c in step.tool_calls))
        if any(r.run_timed_out for r in results):
            return TurnOutcome("timed_out", "timeout", "the run's time limit passed")
    return TurnOutcome("max_steps", "max_steps", f"stopped after {max_steps} model steps")
