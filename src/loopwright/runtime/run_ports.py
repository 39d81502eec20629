"""The engine's ports for one run, over this process's services: the session's conversation as
context, the agent's model (its deltas published live), the store's tools, a rate limit
counted in the database, and the wall clock."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta

from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.settings import ModelSettings
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import core
from loopwright.db.repos import conversations
from loopwright.db.tables import ToolCallRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import Event
from loopwright.engine.history import HistoryItem
from loopwright.engine.ports import ToolInfo, ToolRoute
from loopwright.engine.types import CallContext, ToolCall, ToolOutcome
from loopwright.llm import ModelClient, ModelDelta
from loopwright.runtime import tool_dispatch, toolbox
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
        async with self.rt.db.read() as session:
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


_RECENT_CALLS = (
    select(func.count())
    .select_from(ToolCallRow)
    .where(
        ToolCallRow.store_id == bindparam("store"),
        ToolCallRow.tool_name == bindparam("tool"),
        ToolCallRow.created_at > bindparam("since"),
    )
)


class StoreRateLimit:
    """Calls of one tool per minute in one store, counted from the audit records."""

    def __init__(self, rt: RunServices, store_id: str) -> None:
        self.rt = rt
        self.store_id = store_id

    async def refusal(self, tool: str, ctx: CallContext) -> str | None:
        if isinstance(ctx.transaction, AsyncSession):
            return await self._count(ctx.transaction, tool)
        async with self.rt.db.read() as session:
            return await self._count(session, tool)

    async def _count(self, session: AsyncSession, tool: str) -> str | None:
        limit = self.rt.settings.tool_calls_per_min
        since = utcnow() - timedelta(minutes=1)
        found = await core(
            session, _RECENT_CALLS, {"store": self.store_id, "tool": tool, "since": since}
        )
        if (found.scalar() or 0) >= limit:
            return f"rate limited: tool {tool!r} may be called {limit} times per minute per store"
        return None
