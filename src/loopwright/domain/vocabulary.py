"""Closed sets of the product's vocabulary, as ``Literal`` types."""

from __future__ import annotations

from typing import Final, Literal, get_args

Role = Literal["admin", "member", "readonly"]
ROLE_RANK: Final[dict[str, int]] = {"readonly": 0, "member": 1, "admin": 2}

AgentMode = Literal["single", "team"]
AgentStatus = Literal["active", "disabled"]
BusyPolicy = Literal["enqueue", "reject", "interrupt"]
Priority = Literal["critical", "high", "normal", "low"]
PRIORITY_VALUE: Final[dict[str, int]] = {"critical": 1, "high": 2, "normal": 3, "low": 4}

RunStatus = Literal[
    "queued", "running", "waiting", "completed", "failed", "cancelled", "timed_out", "max_steps"
]
TERMINAL_RUN_STATUSES: Final[frozenset[str]] = frozenset(
    {"completed", "failed", "cancelled", "timed_out", "max_steps"}
)

# What sent a run's message: a client (REST or WebSocket), a trigger (schedule, webhook and
# e-mail come next), another agent, or a parent run starting a child.
RunTrigger = Literal[
    "api", "websocket", "schedule", "webhook", "email", "agent", "child", "reflect"
]

MessageKind = Literal["user", "assistant", "reasoning", "tool_call", "tool_result", "system"]

MemoryType = Literal["preference", "fact", "instruction", "episodic"]

TaskStatus = Literal["todo", "in_progress", "done"]


def values(literal: object) -> tuple[str, ...]:
    return tuple(str(v) for v in get_args(literal))


REFLECT_MARKER: Final = "[loopwright:reflect]"
"""Opens the request of a reflection run (``runtime/reflection``): the offline model answers it
with the memories the conversation asked it to keep."""
