"""The engine's ports for one run, over this process's services: the session's conversation as
context, the agent's model (its deltas published live, its tokens reserved against the store's
limits), the store's tools, a rate limit counted in the database, and the wall clock."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence

from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.settings import ModelSettings
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import conversations
from loopwright.db.tables.base import utcnow
from loopwright.domain import store_settings
from loopwright.domain.events import Event
from loopwright.engine.history import HistoryItem
from loopwright.engine.ports import ToolInfo, ToolRoute
from loopwright.engine.types import CallContext, OverBudget, ToolCall, ToolOutcome
from loopwright.llm import ModelClient, ModelDelta
from loopwright.runtime import limits, tool_dispatch, toolbox
from loopwright.runtime.observed import answered, request_content, request_failed, split_model
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices
from loopwright.telemetry import tracing
from loopwright.tools.builtin import BUILTIN_TOOLS


class SystemClock:
    def now(self) -> float:
        return time.time()


class SessionHistory:
    """The session's conversation as this run sees it (``conversations.history``)."""

    def __init__(self, rt: RunServices, plan: RunPlan) -> None:
        self.rt = rt
        self.plan = plan

    async def items(self) -> Sequence[HistoryItem]:
        plan = self.plan
        async with self.rt.db.read(plan.store_id) as session:
            rows = await conversations.history(session, plan.store_id, plan.session_id, plan.run_id)
        return [HistoryItem(*row) for row in rows]


class AgentModel:
    """The agent's model (with its fallbacks), resolved once per run; deltas go to the hub."""

    def __init__(self, rt: RunServices, plan: RunPlan) -> None:
        self.rt = rt
        self.plan = plan
        self._client: ModelClient | None = None

    @property
    def provider(self) -> str:
        return self._client.provider if self._client is not None else ""

    async def request(
        self,
        index: int,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
    ) -> ModelResponse:
        client = self._client or await self._resolve()
        plan, hub = self.plan, self.rt.hub

        async def on_delta(delta: ModelDelta) -> None:
            kind = "llm.text_delta" if delta.kind == "text" else "llm.reasoning_delta"
            event = Event(
                store_id=plan.store_id,
                seq=None,
                type=kind,
                session_id=plan.session_id,
                run_id=plan.run_id,
                created_at=utcnow(),
                payload={"step": index, "delta": delta.text},
            )
            hub.publish([event])

        requested = plan.models[0]
        began = time.perf_counter()
        with tracing.model_span(
            client.provider, requested, split_model(requested)[1], index
        ) as span:
            if tracing.content_enabled():
                tracing.content(span, "gen_ai.input.messages", request_content(messages))
            try:
                work = client.complete(messages, tools, settings, on_delta)
                response = await self.rt.local.guard(plan.run_id, work)
            except BaseException as exc:
                request_failed(requested, exc, time.perf_counter() - began, span)
                raise
            answered(plan.store_id, requested, response, time.perf_counter() - began, span)
            if tracing.content_enabled():
                tracing.content(span, "gen_ai.output.messages", request_content([response]))
        return response

    async def _resolve(self) -> ModelClient:
        """Raises ``LoopwrightError`` when the agent's model cannot be had (unknown, removed)."""
        client = await self.rt.models.client(self.rt.db, self.plan.store_id, self.plan.models)
        self._client = client
        return client


class StoreTools:
    """The run's assigned tools as they exist in the store now: built-in (acting in the
    call's transaction), HTTP and MCP (acting outside it)."""

    def __init__(self, rt: RunServices, plan: RunPlan) -> None:
        self.rt = rt
        self.plan = plan
        self._found: dict[str, toolbox.RunTool] | None = None

    async def _resolve(self) -> dict[str, toolbox.RunTool]:
        plan, rt = self.plan, self.rt
        self._found = await toolbox.resolve(
            rt.db, plan.store_id, plan.tools, secrets=rt.secrets, mcp=rt.mcp
        )
        return self._found

    async def available(self) -> Mapping[str, ToolInfo]:
        found = await self._resolve()
        return {
            wire: ToolInfo(
                tool.name,
                tool.read_only,
                tool.definition,
                "transaction" if tool.kind == "builtin" else "outside",
            )
            for wire, tool in found.items()
        }

    def route(self, call: ToolCall) -> ToolRoute:
        """Known without resolving (a replayed step calls before anything resolved): only a
        built-in acts in the call's transaction; a refusal records in it too."""
        name = toolbox.canonical(self.plan.tools, call.name)
        inside = name in BUILTIN_TOOLS or name not in self.plan.tools
        return ToolRoute(name, "transaction" if inside else "outside")

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        tool = (self._found if self._found is not None else await self._resolve()).get(call.name)
        if tool is None:
            name = toolbox.canonical(self.plan.tools, call.name)
            return ToolOutcome.refused(
                f"tool {name!r} is not available (deleted, or its MCP server is down)"
            )
        return await tool_dispatch.run(self.rt, self.plan, tool, call, ctx)


class StoreRateLimit:
    """Calls of one tool per minute in one store, taken from a counter in the database (in the
    call's transaction when it has one), so calls made in parallel, in any process, count."""

    def __init__(self, rt: RunServices, plan: RunPlan) -> None:
        self.rt = rt
        self.store_id = plan.store_id
        self.settings = store_settings.parse(plan.limits)

    def per_min(self, tool: str) -> int:
        found = self.settings.tool_limits.get(tool) or self.settings.tool_calls_per_min
        return found or self.rt.settings.tool_calls_per_min

    async def refusal(self, tool: str, ctx: CallContext) -> str | None:
        per_min = self.per_min(tool)
        if isinstance(ctx.transaction, AsyncSession):
            return await limits.take_tool_call(ctx.transaction, self.store_id, tool, per_min)
        async with self.rt.db.write(self.store_id) as session:
            return await limits.take_tool_call(session, self.store_id, tool, per_min)


OUTPUT_ALLOWANCE = 1000
"""Tokens reserved for a reply beyond its request (settled to the real count after)."""


def estimate_tokens(messages: list[ModelMessage], tools: list[ToolDefinition]) -> int:
    """About four characters a token, over what the request carries, plus the reply."""
    chars = sum(len(t.name) + len(t.description or "") + 200 for t in tools)
    for message in messages:
        for part in message.parts:
            content = getattr(part, "content", None)
            chars += len(content) if isinstance(content, str) else len(str(content or ""))
            args = getattr(part, "args", None)
            chars += len(args) if isinstance(args, str) else len(str(args or ""))
    return chars // 4 + OUTPUT_ALLOWANCE


class TokenMeter:
    """Reserves a request's tokens against the store's token limits before it is sent, and
    settles the reservation to the reply's usage in the step's own commit."""

    def __init__(self, rt: RunServices, plan: RunPlan) -> None:
        self.rt = rt
        self.plan = plan
        self.settings = store_settings.parse(plan.limits)
        self.held: dict[int, limits.Reservation] = {}

    @property
    def active(self) -> bool:
        s = self.settings
        return bool(
            s.tokens_per_min is not None
            or s.daily_token_budget is not None
            or self.plan.agent_id in s.agent_daily_token_budgets
        )

    async def reserve(self, index: int, amount: int) -> None:
        """Raises ``OverBudget`` when the day (or, past the run's deadline, the minute) cannot
        cover ``amount``; waits for the next minute when only the minute cannot."""
        plan = self.plan
        if self.settings.tokens_per_min is not None:
            amount = min(amount, self.settings.tokens_per_min)
        while True:
            try:
                async with self.rt.db.write(plan.store_id) as session:
                    found = await limits.reserve(
                        session, plan.store_id, plan.agent_id, self.settings, amount
                    )
                    if isinstance(found, limits.Limit):
                        raise _Refused(found)
            except _Refused as refused:
                over = refused.limit
                if over.name != "tokens_per_min" or over.window_end >= plan.deadline:
                    raise OverBudget(
                        f"the next model request (about {amount} tokens) is over the "
                        f"{over.name.replace('_', ' ')} of {over.value} tokens: not sent"
                    ) from None
                await asyncio.sleep(max(0.0, over.window_end - time.time()) + 0.01)
                continue
            if found is not None:
                self.held[index] = found
            return

    async def settle(self, session: AsyncSession, index: int, used: int) -> None:
        held = self.held.pop(index, None)
        if held is not None:
            await limits.settle(session, self.plan.store_id, held, used)

    def release_later(self, index: int) -> None:
        """The request failed: its reservation is given back (in a task of its own)."""
        held = self.held.pop(index, None)
        if held is not None:
            task = asyncio.get_running_loop().create_task(self._give_back(held))
            _RELEASING.add(task)
            task.add_done_callback(_RELEASING.discard)

    async def _give_back(self, held: limits.Reservation) -> None:
        with contextlib.suppress(Exception):  # best effort: the counter expires anyway
            async with self.rt.db.write(self.plan.store_id) as session:
                await limits.settle(session, self.plan.store_id, held, 0)


_RELEASING: set[asyncio.Task[None]] = set()


class _Refused(Exception):
    def __init__(self, limit: limits.Limit) -> None:
        self.limit = limit


class MeteredModel:
    """The model port with its requests reserved against the store's token limits."""

    def __init__(self, inner: AgentModel, meter: TokenMeter) -> None:
        self.inner = inner
        self.meter = meter

    @property
    def provider(self) -> str:
        return self.inner.provider

    async def request(
        self,
        index: int,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
    ) -> ModelResponse:
        await self.meter.reserve(index, estimate_tokens(messages, tools))
        try:
            return await self.inner.request(index, messages, tools, settings)
        except BaseException:
            # Given back in the background: a request cut by its deadline or a cancel must
            # not wait for a write to end its run (a crash meanwhile over-counts, never under).
            self.meter.release_later(index)
            raise
