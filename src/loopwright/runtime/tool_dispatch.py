"""Running one resolved tool of a run: a built-in in the call's transaction, an HTTP or MCP
tool outside it with the idempotency key ``<run_id>:<call_id>``."""

from __future__ import annotations

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.engine.types import CallContext, ToolCall, ToolOutcome
from loopwright.errors import LoopwrightError
from loopwright.runtime import children, toolbox
from loopwright.runtime.builtin_handlers import ToolContext, invoke
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices
from loopwright.tools.http_tool import call_http_tool
from loopwright.tools.spec import ToolArgumentsInvalid


def _invalid(exc: ToolArgumentsInvalid) -> ToolOutcome:
    return ToolOutcome(
        "error",
        {"error": "the arguments do not match the tool's schema", "problems": exc.problems},
    )


async def run(
    rt: RunServices, plan: RunPlan, tool: toolbox.RunTool, call: ToolCall, ctx: CallContext
) -> ToolOutcome:
    if tool.kind == "builtin":
        assert isinstance(ctx.transaction, AsyncSession)
        return await _builtin(rt, ctx.transaction, plan, call, tool)
    if tool.kind == "child":
        return await children.ask_agent(rt, plan, call)
    return await _external(rt, plan, call, tool, ctx.timeout_s)


async def _builtin(
    rt: RunServices, session: AsyncSession, plan: RunPlan, call: ToolCall, tool: toolbox.RunTool
) -> ToolOutcome:
    assert tool.spec is not None
    context = ToolContext(
        store_id=plan.store_id,
        run_id=plan.run_id,
        session_id=plan.session_id,
        agent_id=plan.agent_id,
    )
    try:
        args = tool.spec.validate(call.arguments)
    except ToolArgumentsInvalid as exc:
        return _invalid(exc)
    ok, content = await invoke(
        session, context, tool.name, args, timeout_s=rt.settings.tool_timeout_s
    )
    return ToolOutcome("ok" if ok else "error", content)


async def _external(
    rt: RunServices, plan: RunPlan, call: ToolCall, tool: toolbox.RunTool, timeout_s: float
) -> ToolOutcome:
    key = f"{plan.run_id}:{call.call_id}"
    try:
        if tool.http is not None:
            ok, content = await call_http_tool(
                tool.http,
                call.arguments,
                client=rt.http,
                egress=rt.egress,
                idempotency_key=key,
                timeout_s=timeout_s,
            )
            return ToolOutcome("ok" if ok else "error", content)
        assert tool.mcp is not None
        endpoint, tool_name = tool.mcp
        await rt.egress.check_url(endpoint.url)
        result = await rt.mcp.call_tool(
            endpoint, tool_name, call.arguments, idempotency_key=key, timeout_s=timeout_s
        )
        return ToolOutcome("ok" if result.ok else "error", to_jsonable_python(result.content))
    except ToolArgumentsInvalid as exc:
        return _invalid(exc)
    except LoopwrightError as exc:
        return ToolOutcome("error", {"error": exc.message})
