"""Accept a message: the user message row, ``chat.message_sent``, a queued run and
``run.queued`` are committed in one transaction, with the run's admission if its session and
store have room (see ``admission``); the caller then starts what was admitted.

Every way in (REST, WebSocket, triggers, a parent run starting a child) describes what it
sends as a ``Submission``; ``Runtime.submit`` commits it, interrupts per the session's busy
policy, admits and starts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import Database, core, core_later
from loopwright.db.prepared import prepare
from loopwright.db.repos import conversations
from loopwright.db.tables import AgentRow, MessageRow, RunRow, SessionRow, StoreRow
from loopwright.db.tables.base import utcnow
from loopwright.domain import store_settings
from loopwright.domain.events import NewEvent
from loopwright.domain.vocabulary import Priority, RunTrigger
from loopwright.errors import Conflict, NotFound, Unavailable
from loopwright.events import log
from loopwright.ids import new_id
from loopwright.runtime import limits
from loopwright.runtime.admission import Budget, admit_in
from loopwright.telemetry import tracing


@dataclass(frozen=True, slots=True)
class Submission:
    store_id: str
    session_id: str
    content: str
    priority: Priority = "normal"
    trigger: RunTrigger = "api"
    parent_run_id: str | None = None
    parent_call_id: str | None = None
    """The parent's tool call that started this run (a child run)."""
    read_only: bool = False
    """The run is offered read-only tools only."""
    team_step: dict[str, Any] | None = None
    """The run executes a team plan's step: ``{plan_id, step_key, attempt, max_steps,
    deadline, tools}`` (see ``runtime.team_plans``)."""


@dataclass(frozen=True, slots=True)
class Submitted:
    message: MessageRow
    run: RunRow
    interrupted: list[str]
    admitted: list[str]  # runs admitted in the same commit (this one, if it could start)


_SESSION_AND_AGENT = prepare(
    select(
        SessionRow.agent_id,
        SessionRow.busy_policy,
        AgentRow.id.label("found_agent"),
        AgentRow.name,
        AgentRow.status,
        StoreRow.settings.label("store_settings"),
    )
    .outerjoin(
        AgentRow,
        and_(AgentRow.store_id == SessionRow.store_id, AgentRow.id == SessionRow.agent_id),
    )
    .join(StoreRow, StoreRow.id == SessionRow.store_id)
    .where(SessionRow.store_id == bindparam("store"), SessionRow.id == bindparam("session"))
    # PostgreSQL: one message of a session is accepted at a time (SQLite's write transaction
    # is alone already), so messages and runs are numbered in the order they commit: two sends
    # at once run in the order they were accepted, and "reject" sees the other's run. NO KEY,
    # as a run's own updates take, so rows referencing the session do not hold it back.
    .with_for_update(of=SessionRow, key_share=True)
)
_INSERT_RUN = prepare(insert(RunRow))
_DEFER_RUN = prepare(
    update(RunRow)
    .where(RunRow.store_id == bindparam("store"), RunRow.id == bindparam("run"))
    .values(not_before=bindparam("not_before"))
)


@dataclass(frozen=True, slots=True)
class Prepare:
    """A trigger's first part of the transaction, in its store: claim what it fires for (a
    schedule's due time, a webhook's message id), make the session, and say what it
    submits."""

    store_id: str
    make: Callable[[AsyncSession], Awaitable[Submission]]


Record = Callable[[AsyncSession, "Submitted"], Awaitable[None]]
"""A trigger's last part of the transaction: what it keeps about the run it started."""


class Submit(Protocol):
    """``Runtime.submit``, as the triggers call it."""

    async def __call__(
        self, submission: Submission | Prepare, *, record: Record | None = None
    ) -> Submitted: ...


async def submit_message(
    db: Database,
    submission: Submission | Prepare,
    *,
    admit: Budget | None = None,
    record: Record | None = None,
) -> Submitted:
    """``submission`` in a transaction of its own. ``admit``: this worker's admission budget;
    None (an API-only process) leaves the run to a worker. A trigger passes ``prepare`` and
    ``record`` to commit its claim and its record with the message, or nothing at all."""
    async with db.write(submission.store_id) as session:
        chosen = (
            submission if isinstance(submission, Submission) else await submission.make(session)
        )
        submitted = await accept(session, chosen, admit=admit)
        if record is not None:
            await record(session, submitted)
        return submitted


async def accept(
    session: AsyncSession, submission: Submission, *, admit: Budget | None = None
) -> Submitted:
    """``submit_message`` in the caller's transaction (a parent's tool call starting a child)."""
    store_id, session_id = submission.store_id, submission.session_id
    content, priority, trigger = submission.content, submission.priority, submission.trigger
    chat = (
        await core(session, _SESSION_AND_AGENT, {"store": store_id, "session": session_id})
    ).first()
    if chat is None:
        raise NotFound.of("session", session_id)
    agent_id: str = chat.agent_id
    if chat.found_agent is None:
        raise NotFound.of("agent", agent_id)
    if chat.status != "active":
        raise Conflict(f"agent {chat.name!r} is disabled", details={"agent_id": agent_id})
    # A child run belongs to a run the store accepted: the switch and the limits let it be.
    guarded = submission.trigger != "child"
    settings = store_settings.parse(chat.store_settings)
    if guarded and not settings.runs_enabled:
        raise Unavailable(
            "runs are switched off for this store (its runs_enabled setting): new messages "
            "are refused; runs accepted before go on",
            details={"runs_enabled": False},
        )
    active = await conversations.active_run_ids(session, store_id, session_id)
    if active and chat.busy_policy == "reject":
        raise Conflict(
            "a run is already active in this session",
            details={"run_id": active[0], "busy_policy": "reject"},
        )
    interrupted = active if chat.busy_policy == "interrupt" else []
    run_id, now = new_id("run"), utcnow()
    message: dict[str, Any] = {
        "session_id": session_id,
        "run_id": run_id,
        "kind": "user",
        "content": content,
        "data": {},
        "provider": None,
        "model": None,
        "input_tokens": None,
        "output_tokens": None,
        "latency_ms": None,
        "created_at": now,
    }
    message_id = await conversations.insert_message(session, store_id, **message)
    run: dict[str, Any] = {
        "id": run_id,
        "store_id": store_id,
        "session_id": session_id,
        "agent_id": agent_id,
        "trigger_message_id": message_id,
        "parent_run_id": submission.parent_run_id,
        "parent_call_id": submission.parent_call_id,
        "read_only": submission.read_only,
        "team_step": submission.team_step,
        "trace": tracing.new_run_trace(),
        "status": "queued",
        "stop_reason": None,
        "error": None,
        "priority": priority,
        "trigger": trigger,
        "steps": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "plan": None,
        "created_at": now,
        "started_at": None,
        "finished_at": None,
        "not_before": None,
    }
    # Core inserts: the rows are returned to the caller, not tracked by the session.
    await core_later(session, _INSERT_RUN, run)
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
                {
                    "agent_id": agent_id,
                    "priority": priority,
                    "trigger": trigger,
                    "parent_run_id": submission.parent_run_id,
                },
                session_id=session_id,
                run_id=run_id,
            ),
        ],
    )
    if guarded:
        run["not_before"] = await limits.admit_message(session, store_id, agent_id, settings)
        if run["not_before"] is not None:
            params = {"store": store_id, "run": run_id, "not_before": run["not_before"]}
            await core(session, _DEFER_RUN, params)
    # The session's earlier run ends first, and admits this one in its own commit.
    admitted = await admit_in(session, store_id, admit) if admit and not active else []
    return Submitted(
        message=MessageRow(id=message_id, store_id=store_id, **message),
        run=RunRow(**run),
        interrupted=interrupted,
        admitted=admitted,
    )
