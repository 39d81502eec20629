"""Agents messaging agents (``send_message``): a message to another agent of the store goes
to its mailbox — its session for this sender, so one sender's messages are taken one at a
time and in order, while admission takes the store's waiting messages highest priority
first — or, with ``wait``, starts a child run whose answer the sender waits for (as
``ask_agent``). Chains are bounded: a message is refused ``agent_message_depth`` hops from
the run a person or trigger started, and a run sends at most ``agent_message_fanout``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import agent_messages, agents
from loopwright.engine.types import ToolCall, ToolOutcome
from loopwright.errors import NotFound
from loopwright.runtime import children
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices
from loopwright.runtime.submit import Submission, accept
from loopwright.runtime.trigger_sessions import session_for
from loopwright.tools.agents import SendMessageArgs


async def mailbox_session(session: AsyncSession, store_id: str, agent_id: str, sender: str) -> str:
    """The receiver's session for this sender (made at the first message)."""
    await agent_messages.lock_mailbox(session, agent_id, sender)
    known = await agent_messages.mailbox(session, store_id, agent_id, sender)
    chat = await session_for(
        session,
        store_id,
        agent_id,
        policy="reuse",
        reused=known,
        title=f"mailbox: messages from {sender}",
    )
    if chat != known:
        await agent_messages.set_mailbox(session, store_id, agent_id, sender, chat)
    return chat


async def send_message(rt: RunServices, plan: RunPlan, call: ToolCall) -> ToolOutcome:
    try:
        args = SendMessageArgs.model_validate(call.arguments)
    except ValueError:
        return ToolOutcome(
            "error",
            {"error": "send_message takes {agent, message, priority?, wait?}"},
        )
    max_depth = rt.settings.agent_message_depth
    admitted: list[str] = []
    async with rt.db.write(plan.store_id) as session:
        earlier, sent = await agent_messages.sent_by(
            session, plan.store_id, plan.run_id, call.call_id
        )
        depth = await agent_messages.depth(session, plan.store_id, plan.run_id) + 1
        if earlier is None:
            refusal = _refusal(depth, sent, max_depth, rt.settings.agent_message_fanout)
            if refusal is not None:
                return ToolOutcome("error", {"error": refusal})
        if not args.wait:
            if earlier is not None:
                return ToolOutcome("ok", _sent(args, earlier))
            try:
                agent = await agents.get_by_name(session, plan.store_id, args.agent)
            except NotFound:
                return ToolOutcome("error", {"error": f"no agent named {args.agent!r}"})
            chat = await mailbox_session(session, plan.store_id, agent.id, plan.agent_id)
            submitted = await accept(
                session,
                Submission(
                    plan.store_id, chat, args.message, priority=args.priority, trigger="agent"
                ),
                admit=rt.admitter.budget(),
            )
            await agent_messages.add(
                session,
                plan.store_id,
                submitted.run.id,
                from_run_id=plan.run_id,
                call_id=call.call_id,
                depth=depth,
            )
            run_id, admitted = submitted.run.id, submitted.admitted
    if not args.wait:
        rt.admitter.start_detached(plan.store_id, admitted)
        return ToolOutcome("ok", _sent(args, run_id))
    asked = replace(call, arguments={"agent": args.agent, "message": args.message})
    outcome = await children.ask_agent(rt, plan, asked)
    child = outcome.waiting_on[0] if outcome.waiting_on else None
    if child is not None and earlier is None:
        async with rt.db.write(plan.store_id) as session:
            await agent_messages.add(
                session,
                plan.store_id,
                child,
                from_run_id=plan.run_id,
                call_id=call.call_id,
                depth=depth,
            )
    return outcome


def _refusal(depth: int, sent: int, max_depth: int, fanout: int) -> str | None:
    if depth > max_depth:
        return f"too deep: a chain of agent messages stops at {max_depth} hops"
    if sent >= fanout:
        return f"this run has sent its {fanout} messages (the limit per run)"
    return None


def _sent(args: SendMessageArgs, run_id: str) -> dict[str, Any]:
    return {"agent": args.agent, "run_id": run_id, "status": "queued", "priority": args.priority}
