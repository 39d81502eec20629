"""The run's step store: each model request and each tool call is checkpointed by the record it
commits in the same transaction as its effects.

A model step's ``run_steps`` row ``(run_id, index)`` commits beside the assistant message and
``llm.response_received`` (and, for a final answer, the run's completion). A built-in tool's
``tool_calls`` row ``(run_id, call_id)`` commits beside ``tool.executing``, its domain rows and
events, the tool-result message and ``tool.completed``: it acts exactly once. HTTP and MCP tools
act outside the database: at least once, announced and recorded in transactions of their own.
A replay finds each record and acts no more; a step racing a concurrent replay meets the
record's unique key when it commits, and returns the record that won.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic_ai.messages import ModelResponse, TextPart, ThinkingPart
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import core, core_later
from loopwright.db.prepared import prepare
from loopwright.db.repos import conversations
from loopwright.db.tables import RunStepRow, ToolCallRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import NewEvent
from loopwright.engine.calls import tool_calls_of
from loopwright.engine.history import dump_response
from loopwright.engine.ports import ToolRoute, ToolWork
from loopwright.engine.types import (
    CallContext,
    ModelStep,
    ToolCall,
    ToolOutcome,
    ToolResult,
    TurnOutcome,
)
from loopwright.events import log
from loopwright.ids import new_id
from loopwright.llm import answered_by
from loopwright.runtime import failpoints, lifecycle
from loopwright.runtime.memory_context import MemoryContext
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.run_ports import TokenMeter
from loopwright.runtime.services import RunServices

_RECORDED_STEP = prepare(
    select(RunStepRow.tool_calls).where(
        RunStepRow.store_id == bindparam("store"),
        RunStepRow.run_id == bindparam("run"),
        RunStepRow.index == bindparam("step"),
    )
)
_INSERT_STEP = prepare(insert(RunStepRow))
_RECORDED_CALL = prepare(
    select(ToolCallRow.tool_name, ToolCallRow.outcome, ToolCallRow.result).where(
        ToolCallRow.store_id == bindparam("store"),
        ToolCallRow.run_id == bindparam("run"),
        ToolCallRow.call_id == bindparam("call"),
    )
)
_INSERT_CALL = prepare(insert(ToolCallRow))


class DbStepStore:
    def __init__(
        self,
        rt: RunServices,
        plan: RunPlan,
        *,
        resumed: bool,
        on_ended: Callable[[list[str]], None],
        provider: Callable[[], str],
        memory: MemoryContext | None = None,
        meter: TokenMeter | None = None,
    ) -> None:
        """``on_ended``: called with the runs admitted into the slot a final answer freed;
        ``provider``: the name of the provider that answered last (for the step's record)."""
        self.rt = rt
        self.plan = plan
        self._resumed = resumed
        self._on_ended = on_ended
        self._provider = provider
        self._memory = memory  # its choice is recorded with the first step
        self._meter = meter

    @property
    def resumed(self) -> bool:
        return self._resumed

    def resume(self) -> None:
        """The run goes on after a wait: its finished steps have records."""
        self._resumed = True

    # -- model steps ---------------------------------------------------------------------------

    async def model_step(self, index: int) -> ModelStep | None:
        async with self.rt.db.read(self.plan.store_id) as session:
            return await self._recorded_step(session, index)

    async def _recorded_step(self, session: AsyncSession, index: int) -> ModelStep | None:
        plan = self.plan
        found = await core(
            session, _RECORDED_STEP, {"store": plan.store_id, "run": plan.run_id, "step": index}
        )
        row = found.first()
        if row is None:
            return None
        return ModelStep(index, [ToolCall(**c) for c in row.tool_calls])

    async def record_model_step(
        self, index: int, response: ModelResponse, latency_ms: float, ends: TurnOutcome | None
    ) -> ModelStep:
        plan = self.plan
        calls = tool_calls_of(response)
        call_dicts = [
            {
                "call_id": c.call_id,
                "name": c.name,
                "arguments": c.arguments,
                "arguments_error": c.arguments_error,
            }
            for c in calls
        ]
        try:
            async with self.rt.db.write(plan.store_id) as session:
                # a final answer's event goes out with run.completed, in one append
                await self._persist(session, index, response, latency_ms, call_dicts, ends)
                if self._meter is not None:
                    usage = response.usage
                    used = (usage.input_tokens or 0) + (usage.output_tokens or 0)
                    await self._meter.settle(session, index, used)
                ended = None
                if ends is not None:
                    ended = await lifecycle.end(
                        session,
                        plan.store_id,
                        plan.run_id,
                        ends.status,
                        stop_reason=ends.stop_reason,
                        error=ends.error,
                        admit=self.rt.admitter.budget(),
                    )
                await log.flush(session)
        except IntegrityError:
            async with self.rt.db.read(
                plan.store_id
            ) as session:  # a concurrent replay committed first
                recorded = await self._recorded_step(session, index)
            if recorded is None:
                raise
            return recorded
        if ended is not None:
            self._on_ended(ended.admitted)
        return ModelStep(index, calls)

    async def _persist(
        self,
        session: AsyncSession,
        index: int,
        response: ModelResponse,
        latency_ms: float,
        call_dicts: list[dict[str, Any]],
        ends: TurnOutcome | None,
    ) -> None:
        plan = self.plan
        text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
        thinking = "".join(p.content for p in response.parts if isinstance(p, ThinkingPart))
        usage = response.usage
        provider = answered_by(response, self._provider())
        if thinking:
            await conversations.insert_message(
                session,
                plan.store_id,
                session_id=plan.session_id,
                run_id=plan.run_id,
                kind="reasoning",
                content=thinking,
                data={"step": index},
            )
        message_id = await conversations.insert_message(
            session,
            plan.store_id,
            session_id=plan.session_id,
            run_id=plan.run_id,
            kind="assistant",
            content=text,
            data={"step": index, "response": dump_response(response), "tool_calls": call_dicts},
            provider=provider,
            model=response.model_name,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            latency_ms=latency_ms,
        )
        memories = None
        if index == 0 and self._memory is not None:
            memories = await self._memory.record(session, utcnow())
        await core_later(  # its unique key's error comes with a later statement: the same unit
            session,
            _INSERT_STEP,
            {
                "memories": memories,
                "id": new_id("stp"),
                "store_id": plan.store_id,
                "run_id": plan.run_id,
                "index": index,
                "provider": provider,
                "model": response.model_name,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "latency_ms": latency_ms,
                "tool_calls": call_dicts,
            },
        )
        await conversations.count_step(
            session,
            plan.store_id,
            plan.run_id,
            steps=index + 1,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
        )
        write = log.append if ends is None else log.defer
        await write(
            session,
            plan.store_id,
            [
                NewEvent(
                    "llm.response_received",
                    {
                        "step": index,
                        "message_id": message_id,
                        "text": text,
                        "reasoning": thinking or None,
                        "tool_calls": call_dicts,
                        "usage": {
                            "input_tokens": usage.input_tokens,
                            "output_tokens": usage.output_tokens,
                        },
                        "latency_ms": round(latency_ms, 1),
                        "provider": provider,
                        "model": response.model_name,
                    },
                    session_id=plan.session_id,
                    run_id=plan.run_id,
                )
            ],
        )

    # -- tool calls ----------------------------------------------------------------------------

    async def tool_result(self, call: ToolCall) -> ToolResult | None:
        async with self.rt.db.read(self.plan.store_id) as session:
            return await self._recorded_call(session, call.call_id)

    async def _recorded_call(self, session: AsyncSession, call_id: str) -> ToolResult | None:
        plan = self.plan
        found = await core(
            session, _RECORDED_CALL, {"store": plan.store_id, "run": plan.run_id, "call": call_id}
        )
        row = found.first()
        if row is None:
            return None
        return ToolResult(call_id, row.tool_name, row.outcome == "ok", row.result)

    async def run_tool_call(
        self, index: int, call: ToolCall, route: ToolRoute, work: ToolWork, timeout_s: float
    ) -> ToolResult:
        if route.placement == "transaction":
            step = self._in_transaction(index, call, route.name, work, timeout_s)
        else:
            step = self._outside(index, call, route.name, work, timeout_s)
        return await self.rt.local.guard(self.plan.run_id, step)

    async def _in_transaction(
        self, index: int, call: ToolCall, name: str, work: ToolWork, timeout_s: float
    ) -> ToolResult:
        """``tool.executing``, the tool's effects and its record commit together; the
        announcement is written with the transaction's next append (the tool's own events,
        or its result's: one append instead of two)."""
        started = time.perf_counter()
        try:
            async with self.rt.db.write(self.plan.store_id) as session:
                await log.defer(session, self.plan.store_id, [self._executing(index, call, name)])
                outcome = await work(CallContext(index, timeout_s, session))
                if not outcome.waiting_on:
                    await self._record(session, index, call, name, outcome, started)
                await log.flush(session)
        except IntegrityError:
            return await self._replayed(call)
        failpoints.hit("after_tool_commit")
        return _result(call, name, outcome)

    async def _outside(
        self, index: int, call: ToolCall, name: str, work: ToolWork, timeout_s: float
    ) -> ToolResult:
        """Announced, run outside any transaction (at least once), then recorded."""
        started = time.perf_counter()
        async with self.rt.db.write(self.plan.store_id) as session:
            await self._announce(session, index, call, name)
        outcome = await work(CallContext(index, timeout_s))
        if outcome.waiting_on:
            return _result(call, name, outcome)
        try:
            async with self.rt.db.write(self.plan.store_id) as session:
                await self._record(session, index, call, name, outcome, started)
        except IntegrityError:
            return await self._replayed(call)
        failpoints.hit("after_tool_commit")
        return _result(call, name, outcome)

    async def _announce(self, session: AsyncSession, index: int, call: ToolCall, name: str) -> None:
        await log.append(session, self.plan.store_id, [self._executing(index, call, name)])

    def _executing(self, index: int, call: ToolCall, name: str) -> NewEvent:
        plan = self.plan
        return NewEvent(
            "tool.executing",
            {"step": index, "call_id": call.call_id, "tool": name, "arguments": call.arguments},
            session_id=plan.session_id,
            run_id=plan.run_id,
        )

    async def _replayed(self, call: ToolCall) -> ToolResult:
        async with self.rt.db.read(self.plan.store_id) as session:
            recorded = await self._recorded_call(session, call.call_id)
        if recorded is None:
            raise RuntimeError(f"tool call {call.call_id} conflicted but has no record")
        return recorded

    async def _record(
        self,
        session: AsyncSession,
        index: int,
        call: ToolCall,
        name: str,
        outcome: ToolOutcome,
        started: float,
    ) -> None:
        plan = self.plan
        ok = outcome.status == "ok"
        duration_ms = (time.perf_counter() - started) * 1000
        await core_later(
            session,
            _INSERT_CALL,
            {
                "id": new_id("tcl"),
                "store_id": plan.store_id,
                "run_id": plan.run_id,
                "call_id": call.call_id,
                "agent_id": plan.agent_id,
                "tool_name": name,
                "arguments": call.arguments,
                "result": outcome.content,
                "outcome": outcome.status,
                "duration_ms": duration_ms,
            },
        )
        await conversations.insert_message(
            session,
            plan.store_id,
            session_id=plan.session_id,
            run_id=plan.run_id,
            kind="tool_result",
            content="",
            data={"call_id": call.call_id, "tool": name, "ok": ok, "result": outcome.content},
        )
        await log.append(
            session,
            plan.store_id,
            [
                NewEvent(
                    "tool.completed" if ok else "tool.failed",
                    {
                        "step": index,
                        "call_id": call.call_id,
                        "tool": name,
                        "ok": ok,
                        "outcome": outcome.status,
                        "result": outcome.content,
                        "duration_ms": round(duration_ms, 1),
                    },
                    session_id=plan.session_id,
                    run_id=plan.run_id,
                )
            ],
        )


def _result(call: ToolCall, name: str, outcome: ToolOutcome) -> ToolResult:
    return ToolResult(
        call.call_id, name, outcome.status == "ok", outcome.content, outcome.waiting_on
    )
