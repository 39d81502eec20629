"""Reflection: a run of its own (trigger ``reflect``) in which the agent's model reads the
session's messages that no reflection has read yet and proposes memories for people to review
(``memory.suggested``).

Requested by ``POST /sessions/{id}/reflect`` or, for an agent with ``reflect_idle_s``, by the
sweep once a session has been quiet that long. The run queues like any run of the session (so it
goes after the session's earlier runs), and is a durable workflow like any run. It reads the
messages after ``sessions.reflected_to`` up to the run's ``trigger_message_id`` (the session's
last message when it was requested), asks the model once, and commits in one transaction: its
step record (the tokens, counted in the store's usage like any step), the suggestions with their
events, ``reflected_to`` moved to that last message, and the run's end. So a crash before that
commit asks again; after it, nothing is asked or suggested twice, and a later reflection starts
after the messages this one read.

A suggestion that repeats an agent's memory (the same words) or contradicts it (a preference or
instruction of the same type about the same thing, saying something else) names it, so approving
it can update the old memory instead of adding a second one; the model may name it too, among
the memories it was shown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    UserPromptPart,
)
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import Database, core
from loopwright.db.fulltext import STOP_WORDS, words
from loopwright.db.repos import conversations, memories
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import AgentRow, MemoryRow, MessageRow, RunRow, RunStepRow, SessionRow
from loopwright.db.tables.base import utcnow
from loopwright.domain.events import NewEvent
from loopwright.domain.vocabulary import REFLECT_MARKER, TERMINAL_RUN_STATUSES, MemoryType
from loopwright.engine.types import TurnOutcome
from loopwright.errors import NotFound
from loopwright.events import log
from loopwright.ids import new_id
from loopwright.llm import ModelClient, ModelDelta, answered_by
from loopwright.runtime import lifecycle
from loopwright.runtime.admission import Budget, admit_in
from loopwright.runtime.plan import RunPlan
from loopwright.runtime.services import RunServices

MARKER = REFLECT_MARKER
MAX_MESSAGES = 200
MAX_CHARS = 40_000
SHOWN_MEMORIES = 20
MAX_SUGGESTIONS = 10
PROMPT = (
    "You read a conversation between a user and an assistant and propose long-term memories "
    "worth keeping for later conversations: the user's preferences, facts about the user or "
    "their work, standing instructions, and notable events. Propose only what will still "
    "matter later, each as one self-contained sentence. If a memory repeats or contradicts one "
    "of the existing memories listed, give that memory's id. Answer with JSON only: "
    '{"memories": [{"content": "...", "type": "preference|fact|instruction|episodic", '
    '"importance": 0.0-1.0, "reason": "why it is worth keeping", "message_ids": ["msg_..."], '
    '"relation": "new|duplicate|contradiction", "existing_memory_id": null}]}. '
    'An empty list is a fine answer: {"memories": []}.'
)


class Proposal(BaseModel):
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    type: MemoryType = "fact"
    importance: float = Field(0.5, ge=0, le=1)
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""
    message_ids: list[str] = []
    relation: Literal["new", "duplicate", "contradiction"] = "new"
    existing_memory_id: str | None = None


# -- requesting ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requested:
    run_id: str | None
    messages: int
    admitted: list[str]


async def request(db: Database, store_id: str, session_id: str, budget: Budget | None) -> Requested:
    """Queue a reflection over the session's messages no reflection has read (or return the
    one already queued or running); none when nothing is new."""
    async with db.write(store_id) as session:
        chat = await session.scalar(
            select(SessionRow).where(SessionRow.store_id == store_id, SessionRow.id == session_id)
        )
        if chat is None:
            raise NotFound.of("session", session_id)
        pending = await session.scalar(
            select(RunRow.id).where(
                RunRow.store_id == store_id,
                RunRow.session_id == session_id,
                RunRow.trigger == "reflect",
                RunRow.status.not_in(sorted(TERMINAL_RUN_STATUSES)),
            )
        )
        unread = await _unread(session, store_id, session_id, chat.reflected_to, None)
        if pending is not None:
            return Requested(pending, len(unread), [])
        if not unread:
            return Requested(None, 0, [])
        run_id = await _queue(session, store_id, chat, unread[-1].id)
        active = await conversations.active_run_ids(session, store_id, session_id)
        admitted = (
            await admit_in(session, store_id, budget) if budget and active == [run_id] else []
        )
        return Requested(run_id, len(unread), admitted)


IDLE_BATCH = 100


async def idle_sessions(db: Database, now: datetime) -> list[tuple[str, str]]:
    """(store, session) of agents with ``reflect_idle_s`` whose newest message is older than
    that and not yet read by a reflection."""
    last = func.max(MessageRow.created_at).label("last")
    query = (
        select(SessionRow.store_id, SessionRow.id, AgentRow.reflect_idle_s, last)
        .join(
            AgentRow,
            and_(AgentRow.store_id == SessionRow.store_id, AgentRow.id == SessionRow.agent_id),
        )
        .join(
            MessageRow,
            and_(
                MessageRow.store_id == SessionRow.store_id, MessageRow.session_id == SessionRow.id
            ),
        )
        .where(
            AgentRow.reflect_idle_s.is_not(None),
            MessageRow.kind.in_(("user", "assistant")),
            or_(SessionRow.reflected_to.is_(None), MessageRow.id > SessionRow.reflected_to),
        )
        .group_by(SessionRow.store_id, SessionRow.id, AgentRow.reflect_idle_s)
        .limit(IDLE_BATCH)
    )
    async with db.read(ALL_STORES) as session:
        rows = list(await session.execute(query))
    found = []
    for row in rows:
        newest: datetime = row.last if row.last.tzinfo else row.last.replace(tzinfo=UTC)
        if newest + timedelta(seconds=row.reflect_idle_s) <= now:
            found.append((str(row.store_id), str(row.id)))
    return found


async def reflect_idle(
    db: Database, budget: Budget | None, now: datetime
) -> list[tuple[str, Requested]]:
    """A reflection for each quiet session (see ``idle_sessions``): (store, what was done)."""
    return [
        (store_id, await request(db, store_id, session_id, budget))
        for store_id, session_id in await idle_sessions(db, now)
    ]


async def _queue(session: AsyncSession, store_id: str, chat: SessionRow, through: str) -> str:
    run_id, now = new_id("run"), utcnow()
    await core(
        session,
        insert(RunRow),
        {
            "id": run_id,
            "store_id": store_id,
            "session_id": chat.id,
            "agent_id": chat.agent_id,
            "trigger_message_id": through,
            "read_only": True,
            "status": "queued",
            "priority": "low",
            "trigger": "reflect",
            "steps": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "created_at": now,
        },
    )
    await log.append(
        session,
        store_id,
        [
            NewEvent(
                "run.queued",
                {"agent_id": chat.agent_id, "priority": "low", "trigger": "reflect"},
                session_id=chat.id,
                run_id=run_id,
            )
        ],
    )
    return run_id


async def _unread(
    session: AsyncSession, store_id: str, session_id: str, after: str | None, through: str | None
) -> list[MessageRow]:
    query = select(MessageRow).where(
        MessageRow.store_id == store_id,
        MessageRow.session_id == session_id,
        MessageRow.kind.in_(("user", "assistant")),
    )
    if after is not None:
        query = query.where(MessageRow.id > after)
    if through is not None:
        query = query.where(MessageRow.id <= through)
    rows = await session.scalars(query.order_by(MessageRow.id.desc()).limit(MAX_MESSAGES))
    return [r for r in reversed(list(rows)) if r.content.strip()]


# -- the run ------------------------------------------------------------------------------------


async def run(rt: RunServices, plan: RunPlan) -> TurnOutcome:
    """The reflection run's one step (see module). Returns ``recorded`` when it ended the run in
    its commit."""
    async with rt.db.read(plan.store_id) as session:
        reflected_to = await session.scalar(
            select(SessionRow.reflected_to).where(
                SessionRow.store_id == plan.store_id, SessionRow.id == plan.session_id
            )
        )
        unread = await _unread(
            session, plan.store_id, plan.session_id, reflected_to, plan.message_id
        )
        shown = await _related(session, plan, unread)
    if not unread:
        return TurnOutcome("completed", "final_answer")
    client = await _client(rt, plan)
    request: list[ModelMessage] = [
        ModelRequest(
            parts=[
                SystemPromptPart(PROMPT),
                UserPromptPart(transcript(unread, shown)),
            ]
        )
    ]

    async def quiet(_: ModelDelta) -> None:  # a reflection streams to nobody
        return None

    started = time.perf_counter()
    response = await rt.local.guard(plan.run_id, client.complete(request, [], {}, quiet))
    latency_ms = (time.perf_counter() - started) * 1000
    proposals = parse(response)
    async with rt.db.write(plan.store_id) as session:
        moved = await session.execute(
            update(SessionRow)
            .where(
                SessionRow.store_id == plan.store_id,
                SessionRow.id == plan.session_id,
                (SessionRow.reflected_to == reflected_to)
                if reflected_to is not None
                else SessionRow.reflected_to.is_(None),
            )
            .values(reflected_to=unread[-1].id)
        )
        if moved.rowcount == 1:  # type: ignore[attr-defined]
            await _record(session, plan, response, latency_ms, client.provider)
            await _suggest(session, plan, proposals, {m.id for m in unread}, shown)
        ended = await lifecycle.end(
            session,
            plan.store_id,
            plan.run_id,
            "completed",
            stop_reason="final_answer",
            admit=rt.admitter.budget(),
        )
    if ended is not None:
        rt.admitter.start_detached(plan.store_id, ended.admitted)
    return TurnOutcome("completed", "final_answer", recorded=True)


async def _client(rt: RunServices, plan: RunPlan) -> ModelClient:
    return await rt.models.client(rt.db, plan.store_id, plan.models)


async def _related(
    session: AsyncSession, plan: RunPlan, unread: Sequence[MessageRow]
) -> list[MemoryRow]:
    """The agent's memories the conversation touches: shown to the model, checked against."""
    text = " ".join(m.content for m in unread if m.kind == "user")[:MAX_CHARS]
    ranked = await memories.ranked(
        session, plan.store_id, plan.agent_id, text, limit=SHOWN_MEMORIES
    )
    return await memories.by_ids(session, plan.store_id, [mid for mid, _ in ranked])


def transcript(unread: Sequence[MessageRow], shown: Sequence[MemoryRow]) -> str:
    lines = [MARKER, "Existing memories:"]
    lines += [f"- {m.id} ({m.type}): {m.content}" for m in shown] or ["(none)"]
    lines += ["", "Conversation:"]
    left = MAX_CHARS
    for message in unread:
        text = message.content[:left]
        left -= len(text)
        lines.append(f"[{message.id}] {message.kind}: {text}")
        if left <= 0:
            break
    return "\n".join(lines)


def parse(response: ModelResponse) -> list[Proposal]:
    """The proposals of the reply's JSON (anything unreadable is dropped)."""
    text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return []
    try:
        found = json.loads(text[start : end + 1]).get("memories", [])
    except (ValueError, AttributeError):
        return []
    proposals = []
    for item in found if isinstance(found, list) else []:
        try:
            proposals.append(Proposal.model_validate(item))
        except ValidationError:
            continue
    return proposals[:MAX_SUGGESTIONS]


_STEP = insert(RunStepRow)


async def _record(
    session: AsyncSession, plan: RunPlan, response: ModelResponse, latency_ms: float, fallback: str
) -> None:
    usage = response.usage
    await core(
        session,
        _STEP,
        {
            "id": new_id("stp"),
            "store_id": plan.store_id,
            "run_id": plan.run_id,
            "index": 0,
            "provider": answered_by(response, fallback),
            "model": response.model_name,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "latency_ms": latency_ms,
            "tool_calls": [],
        },
    )
    await conversations.count_step(
        session,
        plan.store_id,
        plan.run_id,
        steps=1,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
    )


def _content_words(text: str) -> set[str]:
    return {w.rstrip("s") for w in words(text) if w not in STOP_WORDS}


def relation_to(
    proposal: Proposal, shown: Sequence[MemoryRow]
) -> tuple[Literal["new", "duplicate", "contradiction"], str | None]:
    """Whether ``proposal`` repeats or contradicts one of ``shown`` (the model's word if it
    named one of them, else by their words)."""
    ids = {m.id for m in shown}
    if proposal.relation != "new" and proposal.existing_memory_id in ids:
        return proposal.relation, proposal.existing_memory_id
    mine = _content_words(proposal.content)
    for memory in shown:
        theirs = _content_words(memory.content)
        if mine == theirs:
            return "duplicate", memory.id
        if (
            memory.type == proposal.type
            and proposal.type in ("preference", "instruction")
            and len(mine & theirs) >= 2
        ):
            return "contradiction", memory.id
    return "new", None


async def _suggest(
    session: AsyncSession,
    plan: RunPlan,
    proposals: Sequence[Proposal],
    read: set[str],
    shown: Sequence[MemoryRow],
) -> None:
    events = []
    for proposal in proposals:
        relation, existing = relation_to(proposal, shown)
        sources = [m for m in proposal.message_ids if m in read]
        row = await memories.add_suggestion(
            session,
            plan.store_id,
            {
                "agent_id": plan.agent_id,
                "session_id": plan.session_id,
                "run_id": plan.run_id,
                "content": proposal.content,
                "type": proposal.type,
                "importance": proposal.importance,
                "reason": proposal.reason,
                "source_message_ids": sources,
                "relation": relation,
                "existing_memory_id": existing,
            },
        )
        events.append(
            NewEvent(
                "memory.suggested",
                {
                    "suggestion_id": row.id,
                    "agent_id": plan.agent_id,
                    "content": row.content,
                    "type": row.type,
                    "importance": row.importance,
                    "reason": row.reason,
                    "source_message_ids": sources,
                    "relation": relation,
                    "existing_memory_id": existing,
                },
                session_id=plan.session_id,
                run_id=plan.run_id,
            )
        )
    if events:
        await log.append(session, plan.store_id, events)
