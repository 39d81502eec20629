"""Row-level security on PostgreSQL, the wall behind the store filters: a transaction scoped
to a store sees and writes only that store's rows even when its query forgets the filter;
the explicit cross-store mode sees every store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, select, text
from sqlalchemy.exc import DBAPIError

from loopwright.bootstrap import DEMO_AGENT
from loopwright.db import database
from loopwright.db.database import Database
from loopwright.db.migrate import upgrade
from loopwright.db.prepared import prepare
from loopwright.db.repos import agents, conversations, tenancy
from loopwright.db.row_security import ALL_STORES, POLICY, TENANT_ROLE
from loopwright.db.tables import AgentRow, Base
from loopwright.domain.events import NewEvent
from loopwright.events import log

TENANT_TABLES = sorted(t.name for t in Base.metadata.sorted_tables if "store_id" in t.c)


@pytest.fixture
async def db(quiet_pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, quiet_pg_url)
    database = Database(quiet_pg_url)
    yield database
    await database.dispose()


async def _store_with_rows(db: Database, prefix: str = "rls-") -> str:
    """A store with a key, an agent, a session and an event, written in its own scope."""
    store_id = f"{prefix}{uuid.uuid4().hex[:8]}"
    async with db.write(store_id) as session:
        await tenancy.create_store(session, store_id, store_id)
        await tenancy.issue_key(session, store_id, "admin")
        agent = await agents.create(session, store_id, dict(DEMO_AGENT))
        chat = await conversations.create_session(session, store_id, agent.id, "t", "queue")
        await log.append(
            session,
            store_id,
            [NewEvent("session.created", {"agent_id": agent.id}, session_id=chat.id)],
        )
    return store_id


async def test_an_unfiltered_query_sees_only_the_transactions_store(db: Database) -> None:
    ours, theirs = await _store_with_rows(db), await _store_with_rows(db)
    async with db.read(ours) as session:
        seen = {
            table: set(
                (await session.execute(text(f"SELECT DISTINCT store_id FROM {table}"))).scalars()
            )
            for table in TENANT_TABLES
        }
        names = set((await session.scalars(select(AgentRow.store_id))).all())
    assert {table: stores - {ours} for table, stores in seen.items()} == {
        t: set() for t in TENANT_TABLES
    }
    assert names == {ours}
    async with db.read(f"rls-{uuid.uuid4().hex[:8]}") as session:  # a store with no rows
        counts = {
            table: (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in TENANT_TABLES
        }
    assert counts == dict.fromkeys(TENANT_TABLES, 0)
    async with db.read(ALL_STORES) as session:  # the explicit cross-store mode sees both
        both = set((await session.scalars(select(AgentRow.store_id))).all())
    assert {ours, theirs} <= both


async def test_a_store_scoped_transaction_cannot_write_another_stores_rows(db: Database) -> None:
    ours, theirs = await _store_with_rows(db), await _store_with_rows(db)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.write(ours) as session:
            await agents.create(session, theirs, {**DEMO_AGENT, "name": "intruder"})
    async with db.write(ours) as session:  # an update that forgets its filter changes ours only
        changed = await session.execute(text("UPDATE agents SET description = 'touched'"))
    assert getattr(changed, "rowcount", None) == 1
    async with db.read(ALL_STORES) as session:
        rows = {
            r.store_id: r.description
            for r in await session.scalars(
                select(AgentRow).where(AgentRow.store_id.in_([ours, theirs]))
            )
        }
    assert rows[ours] == "touched" and rows[theirs] != "touched"


async def test_the_scope_ends_with_its_transaction(db: Database) -> None:
    ours = await _store_with_rows(db)
    for _ in range(3):  # the pooled connections that served a store's scope
        async with db.read(ours) as session:
            await session.execute(text("SELECT 1"))
    async with db.read(ALL_STORES) as session:
        who = (
            await session.execute(
                text("SELECT current_user, current_setting('app.store_id', true)")
            )
        ).one()
    assert who[0] != TENANT_ROLE and not who[1]


async def test_every_tenant_table_is_under_the_policy(db: Database) -> None:
    async with db.read(ALL_STORES) as session:
        protected = set(
            (
                await session.execute(
                    text(
                        "SELECT c.relname FROM pg_class c JOIN pg_policies p "
                        "ON p.tablename = c.relname AND p.schemaname = current_schema() "
                        "WHERE c.relrowsecurity AND p.policyname = :policy "
                        "AND :role = ANY(p.roles)"
                    ),
                    {"policy": POLICY, "role": TENANT_ROLE},
                )
            ).scalars()
        )
    assert sorted(protected) == TENANT_TABLES


async def test_a_store_scoped_transaction_begins_in_its_scope_in_one_round_trip(
    pg_url: str, tmp_path: Path
) -> None:
    """``BEGIN`` and the scope go together, and a connection just used is not pinged: a
    one-statement transaction costs three round trips (the store's name is escaped)."""
    await asyncio.to_thread(upgrade, pg_url)
    db = Database(pg_url, pool_size=1)
    try:
        ours = await _store_with_rows(db, prefix="o'rls\\-")
        await _store_with_rows(db)
        async with db.read(ours) as session:
            raw = await (await session.connection()).get_raw_connection()
            driver = raw.driver_connection
        assert driver is not None
        trace = tmp_path / "trace"
        with trace.open("w") as out:
            driver.pgconn.trace(out.fileno())
            try:
                async with db.read(ours) as session:
                    read = set((await session.scalars(select(AgentRow.store_id))).all())
                async with db.write(ours) as session:
                    await session.execute(text("UPDATE agents SET description = 'seen'"))
            finally:
                driver.pgconn.untrace()
        assert read == {ours}
        assert trace.read_text().count("ReadyForQuery") == 6
    finally:
        await db.dispose()


async def test_a_connection_idle_too_long_is_checked_and_replaced(
    db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.read(ALL_STORES) as session:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    async with await psycopg.AsyncConnection.connect(
        make_url(pg_url).set(drivername="postgresql").render_as_string(False), autocommit=True
    ) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(database, "PING_IDLE_S", 0.0)
    for _ in range(2):  # whichever pooled connection comes first, both are checked
        async with db.read(ALL_STORES) as session:
            assert (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid


async def test_prepared_statements_sent_with_their_scope_are_scoped(db: Database) -> None:
    """A read unit's prepared statements go each with the scope alone (a transaction of
    their own), a write unit's first with its ``BEGIN`` and scope, in one round trip
    (``pg_simple``): forgetting their filter, they still see only the unit's store."""
    ours, theirs = await _store_with_rows(db), await _store_with_rows(db)
    every_agent = prepare(select(AgentRow.store_id))
    async with db.read(ours) as session:
        for _ in range(2):
            assert set((await database.core(session, every_agent)).scalars()) == {ours}
    async with db.write(ours) as session:
        assert set((await database.core(session, every_agent)).scalars()) == {ours}
    async with db.read(ALL_STORES) as session:
        assert {ours, theirs} <= set((await database.core(session, every_agent)).scalars())
