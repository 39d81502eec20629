"""What the loop reads and decides: tool calls, recorded steps, tool outcomes, the turn's end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from loopwright.domain.vocabulary import RunStatus

TurnStatus = RunStatus  # "waiting" included: the run waits for its child runs
ToolStatus = Literal["ok", "error", "refused"]


class Cancelled(Exception):
    """Raised by a port whose run was cancelled while it worked: the turn ends ``cancelled``."""


class OverBudget(Exception):
    """Raised by a model port before sending a request the store's token budget cannot
    cover: the request is not sent and the turn ends ``failed`` with ``stop_reason: budget``."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]
    # Set when the model's arguments were not a JSON object: the call fails without running.
    arguments_error: str | None = None


@dataclass(frozen=True, slots=True)
class ModelStep:
    """A model request that has been answered (and recorded): the tool calls it asked for."""

    index: int
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What a tool did: ``ok`` or ``error`` (the model reads ``content``), or ``refused``.

    ``waiting_on``: the tool started child runs and has no result until they end; the call is
    not recorded, and runs again (finding its children) when the run resumes."""

    status: ToolStatus
    content: Any
    waiting_on: tuple[str, ...] = ()

    @classmethod
    def refused(cls, reason: str) -> ToolOutcome:
        return cls("refused", {"error": reason})


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    name: str
    ok: bool
    content: Any
    waiting_on: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallContext:
    """Where a tool call runs: its step, its time budget, and the transaction the step store
    opened for it (built-in tools act in it, so their effects commit with the call's record)."""

    index: int
    timeout_s: float
    transaction: Any = None


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    status: TurnStatus
    stop_reason: str
    error: str | None = None
    waiting_on: tuple[str, ...] = ()
    recorded: bool = False
    """The step store committed this ending with the step that reached it (a final answer
    ends its run in the reply's own transaction)."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The limits and instructions one run executes with."""

    system_prompt: str
    temperature: float | None
    max_steps: int
    deadline: float  # epoch seconds (the clock's); the run times out after this
    model_timeout_s: float
    tool_timeout_s: float
