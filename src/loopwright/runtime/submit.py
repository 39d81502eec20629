"""Accept a message: the user message row, ``chat.message_sent``, a queued run and
``run.queued`` are committed in one transaction; the caller then hands the run to the runtime."""

from __future__ import annotations

from dataclasses import dataclass

from loopwright.db.database import Database
from loopwright.db.repos import agents, conversations
from loopwright.db.tables import MessageRow, RunRow
from loopwright.domain.events import NewEvent
from loopwright.domain.vocabulary import Priority
from loopwright.errors import Conflict
from loopwright.events import log


@dataclass(frozen=True, slots=True)
class Submitted:
    message: MessageRow
    run: RunRow
    interrupted: list[str]
    first_in_line: bool  # the session had no unfinished run: this one can start at once


async def submit_message(
    db: Database,
    store_id: str,
    session_id: str,
    content: str,
    *,
    priority: Priority = "normal",
    trigger: str = "api",
) -> Submitted:
    async with db.write() as session:
        chat = await conversations.get_session(session, store_id, session_id)
        agent = await agents.get(session, store_id, chat.agent_id)
        if agent.status != "active":
            raise Conflict(f"agent {agent.name!r} is disabled", details={"agent_id": agent.id})
        active = await conversations.active_runs(session, store_id, session_id)
        if active and chat.busy_policy == "reject":
            raise Conflict(
                "a run is already active in this session",
                details={"run_id": active[0].id, "busy_policy": "reject"},
            )
        interrupted = [run.id for run in active] if chat.busy_policy == "interrupt" else []
        message = await conversations.add_message(
            session, store_id, session_id=session_id, kind="user", content=content
        )
        run = await conversations.create_run(
            session,
            store_id,
            session_id=session_id,
            agent_id=agent.id,
            trigger_message_id=message.id,
            priority=priority,
            trigger=trigger,
        )
        message.run_id = run.id
        await log.append(
            session,
            store_id,
            [
                NewEvent(
                    "chat.message_sent",
                    {"message_id": message.id, "kind": "user", "content": content},
                    session_id=session_id,
                    run_id=run.id,
                ),
                NewEvent(
                    "run.queued",
                    {"agent_id": agent.id, "priority": priority, "trigger": trigger},
                    session_id=session_id,
                    run_id=run.id,
                ),
            ],
        )
    return Submitted(message=message, run=run, interrupted=interrupted, first_in_line=not active)
