"""Accept a message: the user message row, ``chat.message_sent``, a queued run and
``run.queued`` are committed in one transaction; the caller then hands the run to the runtime."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select

from loopwright.db.database import Database, core
from loopwright.db.repos import conversations
from loopwright.db.tables import AgentRow, MessageRow, RunRow, SessionRow
from loopwright.domain.events import NewEvent
from loopwright.domain.vocabulary import Priority
from loopwright.errors import Conflict, NotFound
from loopwright.events import log
from loopwright.ids import new_id


@dataclass(frozen=True, slots=True)
class Submitted:
    message: MessageRow
    run: RunRow
    interrupted: list[str]
    first_in_line: bool  # the session had no unfinished run: this one can start at once


_SESSION = select(SessionRow.agent_id, SessionRow.busy_policy).where(
    SessionRow.store_id == bindparam("store"), SessionRow.id == bindparam("session")
)
_AGENT = select(AgentRow.name, AgentRow.status).where(
    AgentRow.store_id == bindparam("store"), AgentRow.id == bindparam("agent")
)


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
        chat = (await core(session, _SESSION, {"store": store_id, "session": session_id})).first()
        if chat is None:
            raise NotFound.of("session", session_id)
        agent_id: str = chat.agent_id
        agent = (await core(session, _AGENT, {"store": store_id, "agent": agent_id})).first()
        if agent is None:
            raise NotFound.of("agent", agent_id)
        if agent.status != "active":
            raise Conflict(f"agent {agent.name!r} is disabled", details={"agent_id": agent_id})
        active = await conversations.active_run_ids(session, store_id, session_id)
        if active and chat.busy_policy == "reject":
            raise Conflict(
                "a run is already active in this session",
                details={"run_id": active[0], "busy_policy": "reject"},
            )
        interrupted = active if chat.busy_policy == "interrupt" else []
        message_id, run_id = new_id("msg"), new_id("run")
        message = MessageRow(
            id=message_id,
            store_id=store_id,
            session_id=session_id,
            run_id=run_id,
            kind="user",
            content=content,
        )
        run = RunRow(
            id=run_id,
            store_id=store_id,
            session_id=session_id,
            agent_id=agent_id,
            trigger_message_id=message_id,
            status="queued",
            priority=priority,
            trigger=trigger,
        )
        session.add_all([message, run])
        await session.flush()
        await log.append(
            session,
            store_id,
            [
                NewEvent(
                    "chat.message_sent",
                    {"message_id": message_id, "kind": "user", "content": content},
                    session_id=session_id,
                    run_id=run_id,
                ),
                NewEvent(
                    "run.queued",
                    {"agent_id": agent_id, "priority": priority, "trigger": trigger},
                    session_id=session_id,
                    run_id=run_id,
                ),
            ],
        )
    return Submitted(message=message, run=run, interrupted=interrupted, first_in_line=not active)
