"""The tool step: authorize, rate-limit, run and record one call.

Built-in tools run exactly once: their domain rows and events, the ``tool_calls`` record keyed
by ``(run_id, call_id)``, the tool-result message and ``tool.completed``/``tool.failed`` commit
in one transaction, and a replayed step finds the record instead of acting again. HTTP and
MCP tools act outside the database, so they run at least once; each call carries the key
``<run_id>:<call_id>`` (``Idempotency-Key``) for the far side to de-duplicate. Every call,
refusals included, leaves an audit record.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import core
from loopwright.db.repos import conversations
from loopwright.db.tables import ToolCallRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import NewEvent
from loopwright.engine.turn import ToolCall, ToolResult
from loopwright.events import log
from loopwright.ids import new_id
from loopwright.runtime import failpoints, toolbox
from loopwright.runtime.local_runs import RunCancelled
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices
from loopwright.runtime.workspace import SessionWorkspace
from loopwright.tools import dispatch
from loopwright.tools.workspace_port import ToolContext

Outcome = tuple[str, Any]  # ("ok" | "error" | "refused", content)


async def run_tool_step(
    rt: RunServices, plan: RunPlan, index: int, call: ToolCall, *, resumed: bool
) -> ToolResult:
    """``resumed``: the run started before, so this call may already have its record."""
    name = toolbox.canonical(plan.tools, call.name)
    tools = await toolbox.resolve(rt.db, plan.store_id, plan.tools, secrets=rt.secrets, mcp=rt.mcp)
    refusal = _refusal(plan, call, name, tools)
    tool = tools.get(call.name)
    if refusal is None and tool is not None and tool.kind != "builtin":
        work = _run_external(rt, plan, index, call, name, tool, resumed)
    else:
        work = _run_in_transaction(rt, plan, index, call, name, tool, refusal, resumed)
    try:
        return await rt.local.guard(plan.run_id, work)
    except RunCancelled:
        return ToolResult(call.call_id, name, False, {"error": "cancelled"})


def _timed_out(call: ToolCall) -> ToolResult:
    return ToolResult(
        call.call_id, call.name, False, {"error": "the run's time limit passed"}, run_timed_out=True
    )


async def _run_in_transaction(
    rt: RunServices,
    plan: RunPlan,
    index: int,
    call: ToolCall,
    name: str,
    tool: toolbox.RunTool | None,
    refusal: str | None,
    resumed: bool,
) -> ToolResult:
    """A built-in tool (or a refusal): ``tool.executing``, the tool's effects and its record
    commit together, so the call happens exactly once."""
    started = time.perf_counter()
    try:
        async with rt.db.write() as session:
            recorded = await _recorded(session, plan, call.call_id) if resumed else None
            if recorded is not None:
                return recorded
            if time.time() >= plan.deadline:
                return _timed_out(call)
            await _announce(session, plan, index, call, name)
            if refusal is None:  # counted inside the write transaction: calls queue here
                refusal = await _rate_limited(rt, session, plan, name)
            if refusal is not None:
                outcome: Outcome = ("refused", {"error": refusal})
            else:
                assert tool is not None
                outcome = await _builtin(rt, session, plan, call, tool)
            await _record(session, plan, index, call, name, outcome, started)
    except IntegrityError:
        return await _replayed(rt, plan, call)
    failpoints.hit("after_tool_commit")
    return _result(call, name, outcome)


async def _run_external(
    rt: RunServices,
    plan: RunPlan,
    index: int,
    call: ToolCall,
    name: str,
    tool: toolbox.RunTool,
    resumed: bool,
) -> ToolResult:
    """An HTTP or MCP tool: announced, called outside any transaction (at least once, with an
    idempotency key), then recorded."""
    async with rt.db.read() as session:
        recorded = await _recorded(session, plan, call.call_id) if resumed else None
        refusal = None if recorded else await _rate_limited(rt, session, plan, name)
    if recorded is not None:
        return recorded
    if time.time() >= plan.deadline:
        return _timed_out(call)
    started = time.perf_counter()
    async with rt.db.write() as session:
        await _announce(session, plan, index, call, name)
    if refusal is not None:
        outcome: Outcome = ("refused", {"error": refusal})
    else:
        outcome = await _external(rt, plan, call, tool)
    result = await _commit(rt, plan, index, call, name, outcome, started)
    failpoints.hit("after_tool_commit")
    return result


async def _announce(
    session: AsyncSession, plan: RunPlan, index: int, call: ToolCall, name: str
) -> None:
    await log.append(
        session,
        plan.store_id,
        [
            NewEvent(
                "tool.executing",
                {
                    "step": index,
                    "call_id": call.call_id,
                    "tool": name,
                    "arguments": call.arguments,
                },
                session_id=plan.session_id,
                run_id=plan.run_id,
            )
        ],
    )


def _refusal(
    plan: RunPlan, call: ToolCall, name: str, tools: dict[str, toolbox.RunTool]
) -> str | None:
    if name not in plan.tools:
        return f"tool {call.name!r} is not assigned to this agent"
    if call.name not in tools:
        return f"tool {name!r} is not available (deleted, or its MCP server is down)"
    if plan.read_only and not tools[call.name].read_only:
        return f"tool {name!r} writes, and this agent may only use read-only tools"
    if call.arguments_error:
        return call.arguments_error
    return None


_RECENT_CALLS = (
    select(func.count())
    .select_from(ToolCallRow)
    .where(
        ToolCallRow.store_id == bindparam("store"),
        ToolCallRow.tool_name == bindparam("tool"),
        ToolCallRow.created_at > bindparam("since"),
    )
)


async def _rate_limited(
    rt: RunServices, session: AsyncSession, plan: RunPlan, name: str
) -> str | None:
    limit = rt.settings.tool_calls_per_min
    found = await core(
        session,
        _RECENT_CALLS,
        {"store": plan.store_id, "tool": name, "since": utcnow() - timedelta(minutes=1)},
    )
    recent = found.scalar()
    if (recent or 0) >= limit:
        return f"rate limited: tool {name!r} may be called {limit} times per minute per store"
    return None


async def _builtin(
    rt: RunServices, session: AsyncSession, plan: RunPlan, call: ToolCall, tool: toolbox.RunTool
) -> Outcome:
    context = ToolContext(
        store_id=plan.store_id,
        run_id=plan.run_id,
        session_id=plan.session_id,
        agent_id=plan.agent_id,
    )
    return await dispatch.call(
        tool.target,
        call.arguments,
        clients=rt,
        key=f"{plan.run_id}:{call.call_id}",
        timeout_s=rt.settings.tool_timeout_s,
        workspace=SessionWorkspace(session, context),
    )


async def _external(
    rt: RunServices, plan: RunPlan, call: ToolCall, tool: toolbox.RunTool
) -> Outcome:
    timeout_s = min(rt.settings.tool_timeout_s, max(0.1, plan.deadline - time.time()))
    return await dispatch.call(
        tool.target,
        call.arguments,
        clients=rt,
        key=f"{plan.run_id}:{call.call_id}",
        timeout_s=timeout_s,
    )


async def _commit(
    rt: RunServices,
    plan: RunPlan,
    index: int,
    call: ToolCall,
    name: str,
    outcome: Outcome,
    started: float,
) -> ToolResult:
    try:
        async with rt.db.write() as session:
            await _record(session, plan, index, call, name, outcome, started)
    except IntegrityError:
        return await _replayed(rt, plan, call)
    return _result(call, name, outcome)


def _result(call: ToolCall, name: str, outcome: Outcome) -> ToolResult:
    return ToolResult(call.call_id, name, outcome[0] == "ok", outcome[1])


async def _replayed(rt: RunServices, plan: RunPlan, call: ToolCall) -> ToolResult:
    async with rt.db.read() as session:
        recorded = await _recorded(session, plan, call.call_id)
    if recorded is None:
        raise RuntimeError(f"tool call {call.call_id} conflicted but has no record")
    return recorded


_RECORDED = select(ToolCallRow.tool_name, ToolCallRow.outcome, ToolCallRow.result).where(
    ToolCallRow.store_id == bindparam("store"),
    ToolCallRow.run_id == bindparam("run"),
    ToolCallRow.call_id == bindparam("call"),
)


async def _recorded(session: AsyncSession, plan: RunPlan, call_id: str) -> ToolResult | None:
    found = await core(
        session, _RECORDED, {"store": plan.store_id, "run": plan.run_id, "call": call_id}
    )
    row = found.first()
    if row is None:
        return None
    return ToolResult(call_id, row.tool_name, row.outcome == "ok", row.result)


_INSERT_CALL = insert(ToolCallRow)


async def _record(
    session: AsyncSession,
    plan: RunPlan,
    index: int,
    call: ToolCall,
    name: str,
    outcome: Outcome,
    started: float,
) -> None:
    status, content = outcome
    ok = status == "ok"
    duration_ms = (time.perf_counter() - started) * 1000
    await core(
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
            "result": content,
            "outcome": status,
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
        data={"call_id": call.call_id, "tool": name, "ok": ok, "result": content},
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
                    "outcome": status,
                    "result": content,
                    "duration_ms": round(duration_ms, 1),
                },
                session_id=plan.session_id,
                run_id=plan.run_id,
            )
        ],
    )
