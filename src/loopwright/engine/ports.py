"""The ports the loop runs against. Each is a narrow Protocol: the runtime implements them over
the database, DBOS and the providers; ``loopwright.testing`` ships in-memory ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.settings import ModelSettings

from loopwright.engine.history import HistoryItem
from loopwright.engine.types import (
    CallContext,
    ModelStep,
    ToolCall,
    ToolOutcome,
    ToolResult,
    TurnOutcome,
)


class Clock(Protocol):
    """Time, for deadlines: epoch seconds."""

    def now(self) -> float: ...


class ContextSource(Protocol):
    """Part of what the model reads before each request: the session's conversation now,
    memories next. Sources are read in order and their items concatenated."""

    async def items(self) -> Sequence[HistoryItem]: ...


class ModelPort(Protocol):
    """One model request (streaming its deltas wherever the implementation sends them).

    Raises ``ProviderError`` when the provider fails, ``Cancelled`` when the run is
    cancelled; the loop bounds it with ``asyncio.timeout``."""

    async def request(
        self,
        index: int,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
    ) -> ModelResponse: ...


Placement = Literal["transaction", "outside"]


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """A tool the run may call, under its wire name (``definition.name``)."""

    name: str
    read_only: bool
    definition: ToolDefinition
    placement: Placement
    """``transaction``: acts in the call's transaction (exactly once, with its record);
    ``outside``: acts outside the database (at least once, with an idempotency key)."""


class Toolset(Protocol):
    """The tools of a run. Features wrap a toolset (see ``engine.toolsets``): a wrapper may
    hide tools and refuse calls before the inner toolset sees them."""

    async def available(self) -> Mapping[str, ToolInfo]:
        """The tools the model is offered now, by wire name."""
        ...

    def route(self, call: ToolCall) -> ToolRoute:
        """The assigned name a call's wire name stands for, and where the call runs."""
        ...

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome: ...


@dataclass(frozen=True, slots=True)
class ToolRoute:
    name: str
    placement: Placement


ToolWork = Callable[[CallContext], Awaitable[ToolOutcome]]


class StepStore(Protocol):
    """Finds and records the steps of one run, so a resumed run repeats no finished step."""

    @property
    def resumed(self) -> bool:
        """The run worked before (a restart or a wake-up): steps may have records."""
        ...

    async def model_step(self, index: int) -> ModelStep | None:
        """The recorded answer of request ``index``, if it was answered."""
        ...

    async def record_model_step(
        self,
        index: int,
        response: ModelResponse,
        latency_ms: float,
        ends: TurnOutcome | None,
    ) -> ModelStep:
        """Record the reply (and, with ``ends``, the run's ending in the same commit)."""
        ...

    async def tool_result(self, call: ToolCall) -> ToolResult | None:
        """The recorded result of ``call``, if it finished."""
        ...

    async def run_tool_call(
        self, index: int, call: ToolCall, route: ToolRoute, work: ToolWork, timeout_s: float
    ) -> ToolResult:
        """Announce, run ``work`` and record its outcome (a waiting outcome is not recorded).
        With ``transaction`` placement all three commit together. Raises ``Cancelled`` if
        the run is cancelled meanwhile."""
        ...
