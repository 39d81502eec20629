"""Sessions, their messages and their runs, within one store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import core, core_later
from loopwright.db.prepared import prepare
from loopwright.db.repos.paging import Page, newest_first, oldest_first
from loopwright.db.tables import MessageRow, RunRow, RunStepRow, SessionRow
from loopwright.domain.vocabulary import TERMINAL_RUN_STATUSES, Priority
from loopwright.errors import NotFound
from loopwright.ids import new_id


async def create_session(
    session: AsyncSession, store_id: str, agent_id: str, title: str, busy_policy: str
) -> SessionRow:
    row = SessionRow(
        id=new_id("ses"),
        store_id=store_id,
        agent_id=agent_id,
        title=title,
        busy_policy=busy_policy,
    )
    session.add(row)
    await session.flush()
    return row


async def get_session(session: AsyncSession, store_id: str, session_id: str) -> SessionRow:
    row = await session.scalar(
        select(SessionRow).where(SessionRow.store_id == store_id, SessionRow.id == session_id)
    )
    if row is None:
        raise NotFound.of("session", session_id)
    return row


async def list_sessions(
    session: AsyncSession,
    store_id: str,
    *,
    agent_id: str | None,
    child: bool | None = None,
    limit: int,
    cursor: str | None,
) -> Page[SessionRow]:
    """``child``: only the sessions made for child runs (``True``: ``ask_agent`` answers, team
    executors), only the others (``False``), or both (``None``)."""
    query = select(SessionRow).where(SessionRow.store_id == store_id)
    if agent_id:
        query = query.where(SessionRow.agent_id == agent_id)
    if child is not None:
        of_child = (
            select(RunRow.id)
            .where(
                RunRow.store_id == store_id,
                RunRow.session_id == SessionRow.id,
                RunRow.parent_run_id.is_not(None),
            )
            .exists()
        )
        query = query.where(of_child if child else ~of_child)
    return await newest_first(session, query, SessionRow.id, limit=limit, cursor=cursor)


async def update_session(
    session: AsyncSession, store_id: str, session_id: str, changes: dict[str, Any]
) -> SessionRow:
    row = await get_session(session, store_id, session_id)
    for field, value in changes.items():
        setattr(row, field, value)
    await session.flush()
    return row


async def delete_session(session: AsyncSession, store_id: str, session_id: str) -> None:
    result = await session.execute(
        delete(SessionRow).where(SessionRow.store_id == store_id, SessionRow.id == session_id)
    )
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound.of("session", session_id)


async def insert_message(session: AsyncSession, store_id: str, **fields: Any) -> str:
    """``add_message`` for the run loop: a Core insert, no ORM object (on PostgreSQL it goes
    with the transaction's next statement: ``core_later``); returns the id."""
    message_id = new_id("msg")
    await core_later(session, _INSERT_MESSAGE, {"id": message_id, "store_id": store_id, **fields})
    return message_id


_INSERT_MESSAGE = prepare(insert(MessageRow))


async def list_messages(
    session: AsyncSession,
    store_id: str,
    session_id: str,
    *,
    limit: int,
    cursor: str | None,
    newest: bool = False,
) -> Page[MessageRow]:
    """Oldest first, or newest first (a chat opens on its latest page and pages back)."""
    query = select(MessageRow).where(
        MessageRow.store_id == store_id, MessageRow.session_id == session_id
    )
    page = newest_first if newest else oldest_first
    return await page(session, query, MessageRow.id, limit=limit, cursor=cursor)


async def history(
    session: AsyncSession, store_id: str, session_id: str, run_id: str
) -> list[tuple[str, str, dict[str, Any], str]]:
    """``(kind, content, data, id)`` of the conversation as run ``run_id`` sees it: every message
    of the session's runs up to and including this one (its user message and what it produced),
    run by run in the session's order, each run's messages in the order written.

    A later message belongs to a later run: a run queued behind others never reads what was
    sent after it, and the replies of earlier runs come after their own user messages even
    when the next message arrived while they ran. Runs of a session execute one at a time in
    run-id order (see ``runtime.admission``), so that order is the conversation's. Plain
    columns, not ORM objects: a run reads its conversation on every model step."""
    rows = await core(session, _HISTORY, {"store": store_id, "session": session_id, "run": run_id})
    return [(row.kind, row.content, row.data, row.id) for row in rows]


_HISTORY = prepare(
    select(MessageRow.kind, MessageRow.content, MessageRow.data, MessageRow.id)
    .where(
        MessageRow.store_id == bindparam("store"),
        MessageRow.session_id == bindparam("session"),
        MessageRow.run_id <= bindparam("run"),
    )
    .order_by(MessageRow.run_id, MessageRow.id)
)


async def get_run(session: AsyncSession, store_id: str, run_id: str) -> RunRow:
    row = await session.scalar(
        select(RunRow).where(RunRow.store_id == store_id, RunRow.id == run_id)
    )
    if row is None:
        raise NotFound.of("run", run_id)
    return row


async def count_step(
    session: AsyncSession,
    store_id: str,
    run_id: str,
    *,
    steps: int,
    input_tokens: int,
    output_tokens: int,
) -> None:
    """Record a finished model step on its run: the step count and the tokens it used (with
    the transaction's next statement: ``core_later``)."""
    await core_later(
        session,
        _COUNT_STEP,
        {
            "store": store_id,
            "run": run_id,
            "new_steps": steps,
            "more_input": input_tokens,
            "more_output": output_tokens,
        },
    )


_COUNT_STEP = prepare(
    update(RunRow)
    .where(RunRow.store_id == bindparam("store"), RunRow.id == bindparam("run"))
    .values(
        steps=bindparam("new_steps"),
        input_tokens=RunRow.input_tokens + bindparam("more_input"),
        output_tokens=RunRow.output_tokens + bindparam("more_output"),
    )
)


async def list_runs(
    session: AsyncSession,
    store_id: str,
    *,
    session_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    parent_run_id: str | None = None,
) -> Page[RunRow]:
    query = select(RunRow).where(RunRow.store_id == store_id)
    if session_id:
        query = query.where(RunRow.session_id == session_id)
    if parent_run_id:
        query = query.where(RunRow.parent_run_id == parent_run_id)
    if status:
        query = query.where(RunRow.status == status)
    return await newest_first(session, query, RunRow.id, limit=limit, cursor=cursor)


async def active_run_ids(session: AsyncSession, store_id: str, session_id: str) -> list[str]:
    """The session's unfinished runs, oldest first (every message send asks)."""
    found = await core(session, _ACTIVE_RUNS, {"store": store_id, "session": session_id})
    return list(found.scalars())


_ACTIVE_RUNS = prepare(
    select(RunRow.id)
    .where(
        RunRow.store_id == bindparam("store"),
        RunRow.session_id == bindparam("session"),
        RunRow.status.not_in(sorted(TERMINAL_RUN_STATUSES)),
    )
    .order_by(RunRow.id)
)


async def list_steps(session: AsyncSession, store_id: str, run_id: str) -> list[RunStepRow]:
    query = (
        select(RunStepRow)
        .where(RunStepRow.store_id == store_id, RunStepRow.run_id == run_id)
        .order_by(RunStepRow.index)
    )
    return list((await session.scalars(query)).all())


_RUN_PRIORITY = prepare(
    select(RunRow.priority).where(
        RunRow.store_id == bindparam("store"), RunRow.id == bindparam("run")
    )
)
_LAST_ANSWER = prepare(
    select(MessageRow.content)
    .where(
        MessageRow.store_id == bindparam("store"),
        MessageRow.run_id == bindparam("run"),
        MessageRow.kind == "assistant",
    )
    .order_by(MessageRow.id.desc())
    .limit(1)
)


async def run_priority(session: AsyncSession, store_id: str, run_id: str) -> Priority:
    """The run's priority (its children and executors inherit it)."""
    found: Priority = (
        await core(session, _RUN_PRIORITY, {"store": store_id, "run": run_id})
    ).scalar_one()
    return found


async def last_answer(session: AsyncSession, store_id: str, run_id: str) -> str | None:
    """The run's last assistant message: what a child run answered its parent."""
    return (await core(session, _LAST_ANSWER, {"store": store_id, "run": run_id})).scalar()
