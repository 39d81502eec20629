"""In-memory ports and a scripted model: run the agent loop with tools in a plain test, with no
database, no server and no provider.

    model = ScriptedModel.replies(call_tool("add", {"a": 2, "b": 3}), "It is 5.")
    result = await run_agent(model, FunctionToolset(add), "What is 2 + 3?")
    assert result.outcome.status == "completed" and result.answer == "It is 5."

``ScriptedModel`` runs on pydantic-ai's ``FunctionModel``: give it a function of the messages
(and the tools offered) for anything a list of replies cannot say.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError, create_model
from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.settings import ModelSettings

from loopwright.engine.calls import tool_calls_of
from loopwright.engine.history import HistoryItem, dump_response
from loopwright.engine.loop import Ports, run_turn
from loopwright.engine.ports import ToolInfo, ToolRoute, ToolWork
from loopwright.engine.types import (
    CallContext,
    ModelStep,
    RunSettings,
    ToolCall,
    ToolOutcome,
    ToolResult,
    TurnOutcome,
)

Reply = ModelResponse | str
ModelFunction = Callable[[list[ModelMessage], AgentInfo], ModelResponse | Awaitable[ModelResponse]]


def call_tool(name: str, arguments: dict[str, Any], call_id: str | None = None) -> ModelResponse:
    """A reply that calls one tool."""
    return ModelResponse(parts=[ToolCallPart(name, arguments, tool_call_id=call_id or name)])


class ScriptedModel:
    """A ``ModelPort`` that answers from a function of the conversation, or from a script."""

    def __init__(self, function: ModelFunction) -> None:
        self._model = FunctionModel(function)
        self.requests: list[list[ModelMessage]] = []

    @classmethod
    def replies(cls, *script: Reply) -> ScriptedModel:
        """Answer each request with the next reply (text, or a ``ModelResponse``)."""
        answers = iter(script)

        def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            reply = next(answers, None)
            if reply is None:
                raise AssertionError("the scripted model ran out of replies")
            return reply if isinstance(reply, ModelResponse) else ModelResponse([TextPart(reply)])

        return cls(answer)

    async def request(
        self,
        index: int,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
    ) -> ModelResponse:
        self.requests.append(list(messages))
        params = ModelRequestParameters(function_tools=tools)
        return await self._model.request(messages, settings, params)


@dataclass(frozen=True)
class _Function:
    fn: Callable[..., Any]
    info: ToolInfo
    args: type[Any]


class FunctionToolset:
    """A ``Toolset`` of plain Python functions (sync or async); their typed parameters are the
    tool's JSON schema and are validated before the call. A function that raises becomes an
    error result the model reads."""

    def __init__(self, *functions: Callable[..., Any], writes: Sequence[str] = ()) -> None:
        self._tools: dict[str, _Function] = {}
        for fn in functions:
            fields: dict[str, Any] = {
                name: (param.annotation, ... if param.default is param.empty else param.default)
                for name, param in inspect.signature(fn).parameters.items()
            }
            args = create_model(f"{fn.__name__}_args", **fields)
            definition = ToolDefinition(
                name=fn.__name__,
                description=inspect.getdoc(fn) or "",
                parameters_json_schema=args.model_json_schema(),
            )
            info = ToolInfo(fn.__name__, fn.__name__ not in writes, definition, "transaction")
            self._tools[fn.__name__] = _Function(fn, info, args)
        self.calls: list[ToolCall] = []

    async def available(self) -> Mapping[str, ToolInfo]:
        return {name: tool.info for name, tool in self._tools.items()}

    def route(self, call: ToolCall) -> ToolRoute:
        return ToolRoute(call.name, "transaction")

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        self.calls.append(call)
        tool = self._tools.get(call.name)
        if tool is None:
            return ToolOutcome.refused(f"no tool named {call.name!r}")
        try:
            args = tool.args.model_validate(call.arguments)
        except ValidationError as exc:
            return ToolOutcome("error", {"error": str(exc)})
        try:
            result = tool.fn(**dict(args))
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return ToolOutcome("error", {"error": f"{type(exc).__name__}: {exc}"})
        return ToolOutcome("ok", result)


@dataclass
class Conversation:
    """A session in memory: a ``ContextSource`` of what was said and done, in order."""

    items: list[HistoryItem] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.items.append(HistoryItem("user", text, {}))


class _ConversationSource:
    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation

    async def items(self) -> Sequence[HistoryItem]:
        return list(self.conversation.items)


class MemorySteps:
    """A ``StepStore`` in memory: it records steps into a ``Conversation``."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.model_steps: dict[int, ModelStep] = {}
        self.tool_results: dict[str, ToolResult] = {}
        self.ended: TurnOutcome | None = None
        self._resumed = False

    @property
    def resumed(self) -> bool:
        return self._resumed

    def resume(self) -> None:
        self._resumed = True

    async def model_step(self, index: int) -> ModelStep | None:
        return self.model_steps.get(index)

    async def record_model_step(
        self, index: int, response: ModelResponse, latency_ms: float, ends: TurnOutcome | None
    ) -> ModelStep:
        text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
        data = {"step": index, "response": dump_response(response)}
        self.conversation.items.append(HistoryItem("assistant", text, data))
        step = ModelStep(index, tool_calls_of(response))
        self.model_steps[index] = step
        self.ended = ends
        return step

    async def tool_result(self, call: ToolCall) -> ToolResult | None:
        return self.tool_results.get(call.call_id)

    async def run_tool_call(
        self, index: int, call: ToolCall, route: ToolRoute, work: ToolWork, timeout_s: float
    ) -> ToolResult:
        outcome = await work(CallContext(index, timeout_s))
        result = ToolResult(
            call.call_id, route.name, outcome.status == "ok", outcome.content, outcome.waiting_on
        )
        if not outcome.waiting_on:
            data = {"call_id": call.call_id, "ok": result.ok, "result": result.content}
            self.conversation.items.append(HistoryItem("tool_result", "", data))
            self.tool_results[call.call_id] = result
        return result


@dataclass
class FakeClock:
    """Time that moves only when told to."""

    time: float = 1_000_000.0

    def now(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds


class _NoTools:
    async def available(self) -> Mapping[str, ToolInfo]:
        return {}

    def route(self, call: ToolCall) -> ToolRoute:
        return ToolRoute(call.name, "transaction")

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        return ToolOutcome.refused(f"no tool named {call.name!r}")


@dataclass(frozen=True)
class AgentRun:
    outcome: TurnOutcome
    conversation: Conversation
    steps: MemorySteps

    @property
    def answer(self) -> str:
        """The last thing the model said."""
        said = (i.content for i in reversed(self.conversation.items) if i.kind == "assistant")
        return next(said, "")


async def run_agent(
    model: ScriptedModel,
    tools: FunctionToolset | None = None,
    prompt: str = "",
    *,
    system_prompt: str = "",
    max_steps: int = 15,
    timeout_s: float = 300.0,
    clock: FakeClock | None = None,
    conversation: Conversation | None = None,
) -> AgentRun:
    """Run the loop once on ``prompt`` (added to ``conversation``, a new one by default)."""
    conversation = conversation or Conversation()
    if prompt:
        conversation.say(prompt)
    clock = clock or FakeClock()
    steps = MemorySteps(conversation)
    ports = Ports(
        model=model,
        tools=tools or _NoTools(),
        steps=steps,
        context=[_ConversationSource(conversation)],
        clock=clock,
    )
    settings = RunSettings(
        system_prompt=system_prompt,
        temperature=None,
        max_steps=max_steps,
        deadline=clock.now() + timeout_s,
        model_timeout_s=timeout_s,
        tool_timeout_s=timeout_s,
    )
    outcome = await run_turn(ports, settings)
    return AgentRun(outcome, conversation, steps)
