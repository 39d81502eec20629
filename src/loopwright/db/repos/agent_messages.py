"""Agents messaging agents: mailboxes (an agent's session per sender) and the depth and
sending call of each message's run."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import core, has_row_locks
from loopwright.db.tables import AgentMessageRow, MailboxRow
from loopwright.ids import new_id

# One maker of a given mailbox at a time: two messages from one sender, sent at once, must
# find or make the same session (read, then insert, would race; the unique constraint would
# then fail the second). Released at the transaction's end.
_LOCK_MAILBOX = select(func.pg_advisory_xact_lock(func.hashtext(bindparam("key"))))


async def lock_mailbox(session: AsyncSession, agent_id: str, sender: str) -> None:
    """On PostgreSQL, wait until no other transaction is making this mailbox (SQLite's write
    transaction is the lock already)."""
    if has_row_locks(session):
        await core(session, _LOCK_MAILBOX, {"key": f"mailbox:{agent_id}:{sender}"})


async def mailbox(session: AsyncSession, store_id: str, agent_id: str, sender: str) -> str | None:
    found: str | None = await session.scalar(
        select(MailboxRow.session_id).where(
            MailboxRow.store_id == store_id,
            MailboxRow.agent_id == agent_id,
            MailboxRow.sender == sender,
        )
    )
    return found


async def set_mailbox(
    session: AsyncSession, store_id: str, agent_id: str, sender: str, session_id: str
) -> None:
    row = await session.scalar(
        select(MailboxRow).where(MailboxRow.agent_id == agent_id, MailboxRow.sender == sender)
    )
    if row is None:
        session.add(
            MailboxRow(
                id=new_id("mbx"),
                store_id=store_id,
                agent_id=agent_id,
                sender=sender,
                session_id=session_id,
            )
        )
    else:
        row.session_id = session_id
    await session.flush()


async def depth(session: AsyncSession, store_id: str, run_id: str) -> int:
    """How many agent-to-agent hops led to this run (0: a person or a trigger started it)."""
    found: int | None = await session.scalar(
        select(AgentMessageRow.depth).where(
            AgentMessageRow.store_id == store_id, AgentMessageRow.run_id == run_id
        )
    )
    return found or 0


async def sent_by(
    session: AsyncSession, store_id: str, run_id: str, call_id: str
) -> tuple[str | None, int]:
    """The run this call sent already (a replay), and how many messages the run has sent."""
    rows = (
        await session.execute(
            select(AgentMessageRow.call_id, AgentMessageRow.run_id).where(
                AgentMessageRow.store_id == store_id, AgentMessageRow.from_run_id == run_id
            )
        )
    ).all()
    mine = next((r.run_id for r in rows if r.call_id == call_id), None)
    return mine, len(rows)


async def add(
    session: AsyncSession,
    store_id: str,
    run_id: str,
    *,
    from_run_id: str | None,
    call_id: str | None,
    depth: int,
) -> None:
    if await session.get(AgentMessageRow, run_id) is not None:
        return
    session.add(
        AgentMessageRow(
            run_id=run_id, store_id=store_id, from_run_id=from_run_id, call_id=call_id, depth=depth
        )
    )
    await session.flush()
