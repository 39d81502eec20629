"""Running one resolved tool of a run: a built-in acts on its store in the call's
transaction (through the workspace port), an HTTP or MCP tool outside it with the idempotency
key ``<run_id>:<call_id>`` (both through ``tools.dispatch``, as the tool-test route does), and
``ask_agent`` starts a child run (``children``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.engine.types import CallContext, ToolCall, ToolOutcome
from loopwright.runtime import agent_messages, children, toolbox
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices
from loopwright.runtime.workspace import SessionWorkspace
from loopwright.tools import dispatch
from loopwright.tools.workspace_port import ToolContext


async def run(
    rt: RunServices, plan: RunPlan, tool: toolbox.RunTool, call: ToolCall, ctx: CallContext
) -> ToolOutcome:
    if tool.kind == "child":
        if tool.name == "send_message":
            return await agent_messages.send_message(rt, plan, call)
        return await children.ask_agent(rt, plan, call)
    workspace = None
    timeout_s = ctx.timeout_s
    if tool.kind == "builtin":
        assert isinstance(ctx.transaction, AsyncSession)
        context = ToolContext(plan.store_id, plan.run_id, plan.session_id, plan.agent_id)
        workspace = SessionWorkspace(ctx.transaction, context)
        timeout_s = rt.settings.tool_timeout_s
    status, content = await dispatch.call(
        tool.target,
        call.arguments,
        clients=rt,
        key=f"{plan.run_id}:{call.call_id}",
        timeout_s=timeout_s,
        workspace=workspace,
    )
    return ToolOutcome(status, content)
