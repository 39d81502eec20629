"""The tool step: run one call and record it, exactly once for built-in tools.

A built-in tool's domain rows and events, the ``tool_calls`` record keyed by
``(run_id, call_id)``, the tool-result message and ``tool.completed``/``tool.failed`` commit in
one transaction. A replayed step finds the record and returns it without acting again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import conversations
from loopwright.db.tables import ToolCallRow
from loopwright.domain.events import NewEvent
from loopwright.engine.turn import ToolCall, ToolResult
from loopwright.errors import LoopwrightError
from loopwright.events import log
from loopwright.ids import new_id
from loopwright.runtime import failpoints
from loopwright.runtime.builtin_handlers import HANDLERS, ToolContext
from loopwright.runtime.local_runs import RunCancelled
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices
from loopwright.runtime.toolbox import find_spec, refusal
from loopwright.tools.spec import ToolArgumentsInvalid

logger = logging.getLogger("loopwright.tools")


async def run_tool_step(rt: RunServices, plan: RunPlan, index: int, call: ToolCall) -> ToolResult:
    async with rt.db.read() as session:
        recorded = await _recorded(session, plan, call.call_id)
    if recorded is not None:
        return recorded
    if time.time() >= plan.deadline:
        return ToolResult(
            call.call_id,
            call.name,
            False,
            {"error": "the run's time limit passed"},
            run_timed_out=True,
        )
    async with rt.db.write() as session:
        await log.append(
            session,
            plan.store_id,
            [
                NewEvent(
                    "tool.executing",
                    {
                        "step": index,
                        "call_id": call.call_id,
                        "tool": call.name,
                        "arguments": call.arguments,
                    },
                    session_id=plan.session_id,
                    run_id=plan.run_id,
                )
            ],
        )
    try:
        result = await rt.local.guard(plan.run_id, _execute_builtin(rt, plan, index, call))
    except RunCancelled:
        return ToolResult(call.call_id, call.name, False, {"error": "cancelled"})
    failpoints.hit("after_tool_commit")
    return result


async def _recorded(session: AsyncSession, plan: RunPlan, call_id: str) -> ToolResult | None:
    row = await session.scalar(
        select(ToolCallRow).where(
            ToolCallRow.store_id == plan.store_id,
            ToolCallRow.run_id == plan.run_id,
            ToolCallRow.call_id == call_id,
        )
    )
    if row is None:
        return None
    return ToolResult(row.call_id, row.tool_name, row.outcome == "ok", row.result)


async def _execute_builtin(
    rt: RunServices, plan: RunPlan, index: int, call: ToolCall
) -> ToolResult:
    started = time.perf_counter()
    context = ToolContext(
        store_id=plan.store_id,
        run_id=plan.run_id,
        session_id=plan.session_id,
        agent_id=plan.agent_id,
    )
    try:
        async with rt.db.write() as session:
            recorded = await _recorded(session, plan, call.call_id)
            if recorded is not None:
                return recorded
            ok, content = await _invoke(rt, session, plan, context, call)
            duration_ms = (time.perf_counter() - started) * 1000
            await _record(session, plan, index, call, ok, content, duration_ms)
    except IntegrityError:
        async with rt.db.read() as session:
            recorded = await _recorded(session, plan, call.call_id)
        if recorded is None:
            raise
        return recorded
    return ToolResult(call.call_id, call.name, ok, content)


async def _invoke(
    rt: RunServices, session: AsyncSession, plan: RunPlan, context: ToolContext, call: ToolCall
) -> tuple[bool, Any]:
    refused = refusal(plan.tools, call.name)
    if refused:
        return False, {"error": refused}
    if call.arguments_error:
        return False, {"error": call.arguments_error}
    spec = find_spec(call.name)
    assert spec is not None
    try:
        args = spec.validate(call.arguments)
        async with session.begin_nested(), asyncio.timeout(rt.settings.tool_timeout_s):
            content = await HANDLERS[call.name](session, context, args)
    except ToolArgumentsInvalid as exc:
        return False, {
            "error": "the arguments do not match the tool's schema",
            "problems": exc.problems,
        }
    except LoopwrightError as exc:
        return False, {"error": exc.message}
    except TimeoutError:
        return False, {"error": f"the tool did not finish within {rt.settings.tool_timeout_s} s"}
    except Exception as exc:  # a tool that raises becomes an error result; the run goes on
        logger.exception("built-in tool %s raised", call.name)
        return False, {"error": f"{type(exc).__name__}: {exc}"}
    return True, to_jsonable_python(content)


async def _record(
    session: AsyncSession,
    plan: RunPlan,
    index: int,
    call: ToolCall,
    ok: bool,
    content: Any,
    duration_ms: float,
) -> None:
    session.add(
        ToolCallRow(
            id=new_id("tcl"),
            store_id=plan.store_id,
            run_id=plan.run_id,
            call_id=call.call_id,
            agent_id=plan.agent_id,
            tool_name=call.name,
            arguments=call.arguments,
            result=content,
            outcome="ok" if ok else "error",
            duration_ms=duration_ms,
        )
    )
    await conversations.add_message(
        session,
        plan.store_id,
        session_id=plan.session_id,
        run_id=plan.run_id,
        kind="tool_result",
        content="",
        data={"call_id": call.call_id, "tool": call.name, "ok": ok, "result": content},
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
                    "tool": call.name,
                    "ok": ok,
                    "result": content,
                    "duration_ms": round(duration_ms, 1),
                },
                session_id=plan.session_id,
                run_id=plan.run_id,
            )
        ],
    )
