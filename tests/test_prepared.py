"""Prepared statements (``db.prepared``): they run on the driver past SQLAlchemy (sqlite3, or
psycopg in the session's transaction), and must give what SQLAlchemy's path gives: Python-side
defaults, bind and result processing (JSON, UTC timestamps), lists built into the statement,
``RETURNING`` rows and row counts, SQLAlchemy's exceptions; a statement the fast path cannot
take runs through SQLAlchemy. Every test runs on both databases."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Json, Jsonb
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from loopwright.db import database, pg_simple
from loopwright.db.database import Database, core
from loopwright.db.migrate import upgrade
from loopwright.db.prepared import Fetched, prepare
from loopwright.db.repos import deliveries
from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import StoreRow
from loopwright.domain.events import Event, NewEvent
from loopwright.events import log

_INSERT = insert(StoreRow)
_RENAME = (
    update(StoreRow)
    .where(StoreRow.id == bindparam("store"), StoreRow.name.not_in(["x", "y"]))
    .values(name=bindparam("new_name"), event_seq=StoreRow.event_seq + bindparam("count"))
    .returning(StoreRow.event_seq, StoreRow.created_at, StoreRow.settings)
)
_READ = select(StoreRow.name, StoreRow.settings, StoreRow.created_at).where(
    StoreRow.id == bindparam("store"), StoreRow.name.not_in(["x", "y"])
)
_NAME = update(StoreRow).where(StoreRow.id == bindparam("store")).values(name=bindparam("new_name"))
_THESE = select(StoreRow.id).where(StoreRow.id.in_(bindparam("ids", expanding=True)))


def new_ids(n: int) -> list[str]:
    return [f"pp{uuid.uuid4().hex[:8]}" for _ in range(n)]


async def new_store(db: Database) -> str:
    """A store row named ``a``, committed."""
    (store_id,) = new_ids(1)
    async with db.write(ALL_STORES) as session:
        await core(session, prepare(_INSERT), {"id": store_id, "name": "a"})
    return store_id


async def test_the_same_rows_as_sqlalchemy(db: Database) -> None:
    fast_id, slow_id = new_ids(2)
    fast_insert, fast_rename, fast_read = prepare(_INSERT), prepare(_RENAME), prepare(_READ)
    async with db.write(ALL_STORES) as session:
        # no settings, no created_at: their Python defaults (dict, utcnow) fill them
        inserted = await core(session, fast_insert, {"id": fast_id, "name": "a"})
        await core(session, _INSERT, {"id": slow_id, "name": "a"})
        assert isinstance(inserted, Fetched)  # the driver's path
        fast = await core(session, fast_rename, {"store": fast_id, "new_name": "b", "count": 3})
        slow = await core(session, _RENAME, {"store": slow_id, "new_name": "b", "count": 3})
        fast_row, slow_row = fast.one(), slow.one()
        renamed = await core(session, prepare(_NAME), {"store": fast_id, "new_name": "b"})
        assert renamed.rowcount == 1
    assert fast_row.event_seq == slow_row.event_seq == 3
    assert fast_row.settings == slow_row.settings == {}
    assert fast_row.created_at.tzinfo is not None
    async with db.read(ALL_STORES) as session:
        fast_read_row = (await core(session, fast_read, {"store": fast_id})).first()
        slow_read_row = (await core(session, _READ, {"store": slow_id})).first()
        assert (await core(session, fast_read, {"store": "nope"})).first() is None
        assert (await core(session, fast_read, {"store": "nope"})).scalar() is None
    assert fast_read_row is not None and slow_read_row is not None
    assert (fast_read_row.name, fast_read_row.settings) == ("b", {})
    assert tuple(fast_read_row)[:2] == tuple(slow_read_row)[:2]
    assert isinstance(fast_read_row.created_at, datetime)
    assert fast_read_row.created_at.utcoffset() == timedelta(0)


async def test_many_rows_in_one_statement(db: Database) -> None:
    ids = new_ids(3)
    fast_insert = prepare(_INSERT)
    rows: list[dict[str, Any]] = [
        {"id": i, "name": i, "settings": {"n": n}} for n, i in enumerate(ids)
    ]
    async with db.write(ALL_STORES) as session:
        await core(session, fast_insert, rows)
    async with db.read(ALL_STORES) as session:
        found = await session.execute(
            select(StoreRow.id, StoreRow.settings).where(StoreRow.id.in_(ids)).order_by(StoreRow.id)
        )
        assert [tuple(r) for r in found] == sorted((i, {"n": n}) for n, i in enumerate(ids))


async def test_a_constraint_raises_sqlalchemys_error_and_rolls_back(db: Database) -> None:
    (store_id,) = new_ids(1)
    fast_insert = prepare(_INSERT)
    async with db.write(ALL_STORES) as session:
        await core(session, fast_insert, {"id": store_id, "name": "a"})

    async def rename_then_insert_again() -> None:
        async with db.write(ALL_STORES) as session:
            await core(session, prepare(_RENAME), {"store": store_id, "new_name": "c", "count": 1})
            await core(session, fast_insert, {"id": store_id, "name": "again"})

    with pytest.raises(IntegrityError):
        await rename_then_insert_again()
    async with db.read(ALL_STORES) as session:
        row = (await core(session, prepare(_READ), {"store": store_id})).one()
    assert row.name == "a"  # the rename rolled back with the failed insert


async def test_a_list_given_when_run_goes_through_sqlalchemy(db: Database) -> None:
    ids = new_ids(2)
    these = prepare(_THESE)
    async with db.write(ALL_STORES) as session:
        await core(session, prepare(_INSERT), [{"id": i, "name": i} for i in ids])
    async with db.read(ALL_STORES) as session:
        found = await core(session, these, {"ids": ids})
        assert sorted(found.scalars()) == sorted(ids)
    assert these.compiled(("ids",)) is None


async def test_prepared_and_orm_statements_commit_or_roll_back_together(db: Database) -> None:
    """On SQLite a prepared statement may begin the write transaction (on the driver) and the
    ORM join it, or the other way round: one transaction either way."""
    first, second, third, fourth = new_ids(4)
    fast_insert = prepare(_INSERT)
    async with db.write(ALL_STORES) as session:
        await core(session, fast_insert, {"id": first, "name": "a"})
        session.add(StoreRow(id=second, name="b", event_seq=0, settings={}))  # flushed at commit

    async def orm_then_prepared_then_fail() -> None:
        async with db.write(ALL_STORES) as session:
            session.add(StoreRow(id=third, name="c", event_seq=0, settings={}))
            await session.flush()
            await core(session, fast_insert, {"id": fourth, "name": "d"})
            raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        await orm_then_prepared_then_fail()
    async with db.read(ALL_STORES) as session:
        found = await session.scalars(
            select(StoreRow.id).where(StoreRow.id.in_([first, second, third, fourth]))
        )
        assert sorted(found) == sorted([first, second])


async def test_a_first_write_that_begins_with_the_orm_keeps_it(tmp_path: Path) -> None:
    """A fresh database whose first write transaction runs the ORM before a prepared statement:
    opening the driver's connection for the prepared one must not end what the ORM began."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        first, second = new_ids(2)
        async with db.write(ALL_STORES) as session:
            session.add(StoreRow(id=first, name="a", event_seq=0, settings={}))
            await session.flush()
            renamed = await core(session, prepare(_NAME), {"store": first, "new_name": "b"})
            assert renamed.rowcount == 1
            await core(session, prepare(_INSERT), {"id": second, "name": "c"})
        async with db.read(ALL_STORES) as session:
            found = await session.execute(
                select(StoreRow.id, StoreRow.name).where(StoreRow.id.in_([first, second]))
            )
            assert sorted(tuple(r) for r in found) == sorted([(first, "b"), (second, "c")])
    finally:
        await db.dispose()


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # psycopg's prepared statements
async def test_read_units_keep_the_statements_psycopg_prepared(
    db: Database, tmp_path: Path
) -> None:
    """A read unit that began a transaction (its ORM did) ends with ``COMMIT``: at a
    ``ROLLBACK`` psycopg forgets how often each statement ran on the connection and drops
    those it prepared (``DEALLOCATE ALL``, a round trip), so the hot statements were parsed
    and planned again in every transaction."""
    (store_id,) = new_ids(1)
    read = prepare(_READ)
    async with db.write(ALL_STORES) as session:
        await core(session, prepare(_INSERT), {"id": store_id, "name": "a"})
    trace = tmp_path / "trace"
    with trace.open("w") as out:
        for _ in range(8):  # psycopg prepares a statement at its fifth run on a connection
            async with db.read(ALL_STORES) as session:
                driver = await database._driver(session)
                driver.pgconn.trace(out.fileno())
                await session.execute(select(StoreRow.id).limit(1))  # the ORM begins
                assert (await core(session, read, {"store": store_id})).one().name == "a"
            driver.pgconn.untrace()
    parsed = [
        line
        for line in trace.read_text().splitlines()
        if "\tParse\t" in line and "stores.name" in line
    ]
    # its first runs, then once as a prepared statement, which the later runs use
    assert len(parsed) <= 6 and '"_pg3_' in parsed[-1]
    assert "DEALLOCATE" not in trace.read_text()


def _sent(trace: Path) -> list[list[str]]:
    """What the client sent, from a libpq trace: [message, content] pairs (a message's text
    runs on over lines that do not start with a timestamp)."""
    messages = re.split(r"\n(?=\d{4}-\d\d-\d\d )", trace.read_text())
    return [
        [part.strip() for part in [*message.split("\t", 4)[3:5], ""][:2]]
        for message in messages
        if "\tF\t" in message
    ]


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_read_units_statements_each_take_one_round_trip(
    db: Database, tmp_path: Path
) -> None:
    """A read unit's prepared statements run each in a transaction of its own (the simple
    protocol's implicit one), the store's scope in the same query: no ``BEGIN``, no
    ``COMMIT``, one round trip a statement."""
    store_id = await new_store(db)
    trace = tmp_path / "trace"
    with trace.open("w") as out:
        async with db.read(store_id) as session:
            driver = await database._driver(session)
            driver.pgconn.trace(out.fileno())
            for _ in range(2):
                assert (await core(session, prepare(_READ), {"store": store_id})).one().name == "a"
        driver.pgconn.untrace()
    sent = _sent(trace)
    assert [kind for kind, _ in sent] == ["Query", "Query"]
    for _, query in sent:
        assert query.startswith('"SELECT set_config(') and "SELECT stores.name" in query
        assert "BEGIN" not in query and "COMMIT" not in query


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_write_units_begin_and_append_ride_with_its_statements(
    db: Database, tmp_path: Path
) -> None:
    """A write unit's ``BEGIN`` goes with its first statement, and an event append with its
    ``COMMIT`` (one round trip each, the simple protocol): its events get their seqs then;
    a unit that runs no statement sends nothing."""
    store_id = await new_store(db)
    published: list[Event] = []
    db.on_commit(published.extend)
    trace = tmp_path / "trace"
    with trace.open("w") as out:
        async with db.write(store_id) as session:
            driver = await database._driver(session)
            driver.pgconn.trace(out.fileno())
            await core(session, prepare(_NAME), {"store": store_id, "new_name": "b"})
            appended = await log.append(session, store_id, [NewEvent("note.added", {})])
            assert appended == []  # its seq comes with the commit
        async with db.write(store_id) as session:
            assert await database._driver(session) is driver  # the same pooled connection
        driver.pgconn.untrace()
    sent = _sent(trace)
    assert [kind for kind, _ in sent] == ["Query", "Query"]
    assert sent[0][1].startswith('"BEGIN; SELECT set_config(') and "UPDATE stores" in sent[0][1]
    assert "WITH bumped" in sent[1][1] and sent[1][1].endswith('; COMMIT"')
    assert [e.seq for e in appended] == [1] and published == appended


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_values_bound_as_literals_read_back_as_psycopgs_own(db: Database) -> None:
    """``pg_simple.bind`` quotes the types the hot statements bind itself (libpq escapes the
    strings), and leaves the rest to psycopg's ``mogrify``: both read back alike."""
    values: list[Any] = [
        None,
        "o'hare \\ back\nslash ünï ☃",
        "",
        0,
        -5,
        2**40,
        True,
        False,
        1.5,
        -0.25,
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5),
        Json({"a": [1, "x'y"], "n": None, "f": 0.5}),
        Jsonb(["é", 2]),
    ]
    async with db.read(ALL_STORES) as session:
        driver = await database._driver(session)
        for some in (values, [*values, Decimal("1.50")]):  # a type left to psycopg
            sql = "SELECT " + ", ".join(["%s"] * len(some))
            ours = pg_simple.bind(driver, sql, some)
            theirs = psycopg.AsyncClientCursor(driver).mogrify(sql, some).encode()
            assert (ours == theirs) is (len(some) > len(values))  # quoted here, or by psycopg
            read = [
                pg_simple.rows(driver, (await pg_simple.simple_query(driver, query))[-1])
                for query in (ours, theirs)
            ]
            assert read[0] == read[1]
            assert read[0][0][1] == values[1] and read[0][0][12] == values[12].obj
        with pytest.raises(psycopg.DataError):  # libpq would cut it at the NUL
            pg_simple.bind(driver, "SELECT %s", ["cut\x00here"])


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_held_statements_error_is_the_units_not_a_savepoints(db: Database) -> None:
    """A held insert that fails surfaces before a savepoint that catches its own errors (the
    signing secret's: taken by another request), not inside it: the unit fails, as the
    insert would have failed it at once."""
    store_id = await new_store(db)

    async def unit() -> None:
        async with db.write(store_id) as session:
            await database.core_later(session, prepare(_INSERT), {"id": store_id, "name": "b"})
            await deliveries.add_signing_secret(session, store_id, "secret")

    with pytest.raises(IntegrityError):
        await unit()
    async with db.read(store_id) as session:
        assert await deliveries.signing_secret(session, store_id) is None


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_unit_an_error_aborted_does_not_end_as_if_it_committed(db: Database) -> None:
    """PostgreSQL answers the ``COMMIT`` of an aborted transaction with a ``ROLLBACK`` and
    psycopg raises nothing: a unit whose code caught the error must still fail."""
    first, (second,) = await new_store(db), new_ids(1)

    async def unit() -> None:
        async with db.write(ALL_STORES) as session:
            await core(session, prepare(_INSERT), {"id": second, "name": "b"})
            with contextlib.suppress(IntegrityError):
                await core(session, prepare(_INSERT), {"id": first, "name": "again"})

    with pytest.raises(DBAPIError, match="aborted"):
        await unit()
    async with db.read(ALL_STORES) as session:
        assert (await core(session, prepare(_READ), {"store": second})).first() is None


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_an_append_to_a_store_that_is_gone_fails_its_unit(db: Database) -> None:
    """The append goes with the ``COMMIT``: with no store row it fails in the database, so the
    unit's other writes are not committed without it."""
    first, (gone,) = await new_store(db), new_ids(1)

    async def unit() -> None:
        async with db.write(ALL_STORES) as session:
            await core(session, prepare(_NAME), {"store": first, "new_name": "renamed"})
            await log.append(session, gone, [NewEvent("task.created", {})])

    with pytest.raises(DBAPIError, match="append_to_a_store_that_is_gone"):
        await unit()
    async with db.read(ALL_STORES) as session:
        assert (await core(session, prepare(_READ), {"store": first})).one().name == "a"


def _round_trips(sent: list[list[str]]) -> list[str]:
    """Each round trip's statements: a simple query's text, or an extended one's (its
    ``Parse``), one entry per ``Query`` or ``Sync``."""
    trips: list[str] = []
    parsed = ""
    for kind, content in sent:
        if kind == "Query":
            trips.append(content)
        elif kind == "Parse":
            parsed = content
        elif kind == "Sync":
            trips.append(parsed)
    return trips


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_savepoint_goes_with_the_units_next_statement(db: Database, tmp_path: Path) -> None:
    """A built-in tool's shape: an append, a savepoint with an ORM read inside, an insert.
    The ``SAVEPOINT`` goes with the append before the read, the ``RELEASE`` with the insert
    and the ``COMMIT``: three round trips, where each statement alone took five."""
    store_id, (other,) = await new_store(db), new_ids(1)
    trace = tmp_path / "trace"
    with trace.open("w") as out:
        async with db.write(store_id) as session:
            driver = await database._driver(session)
            driver.pgconn.trace(out.fileno())
            await log.append(session, store_id, [NewEvent("tool.executing", {})])
            async with log.savepoint(session):
                found = await session.execute(select(StoreRow.name).where(StoreRow.id == store_id))
                assert found.scalar_one() == "a"
            await database.core_later(session, prepare(_INSERT), {"id": other, "name": "b"})
        driver.pgconn.untrace()
    trips = _round_trips(_sent(trace))
    assert len(trips) == 3, trips
    assert "WITH bumped" in trips[0] and trips[0].endswith('; SAVEPOINT sa_savepoint_1"')
    assert "SELECT stores.name" in trips[1]
    assert trips[2].startswith('"RELEASE SAVEPOINT sa_savepoint_1; INSERT INTO stores')
    assert trips[2].endswith('; COMMIT"')
    async with db.read(ALL_STORES) as session:
        assert (await core(session, prepare(_READ), {"store": other})).one().name == "b"
        assert await log.high_water(session, store_id) == 1


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_savepoint_nothing_reached_is_never_sent(db: Database, tmp_path: Path) -> None:
    """Rolled back, a savepoint that is still held takes back what was held inside it (and
    nothing is sent for it); released, it is dropped. What came before it stays (an insert,
    which could fail, goes before the savepoint: its error is not the savepoint's)."""
    store_id, (kept, taken_back, kept_too) = await new_store(db), new_ids(3)
    trace = tmp_path / "trace"
    with trace.open("w") as out:
        async with db.write(ALL_STORES) as session:
            driver = await database._driver(session)
            driver.pgconn.trace(out.fileno())
            await database.core_later(session, prepare(_INSERT), {"id": kept, "name": "k"})
            with contextlib.suppress(LookupError):
                async with log.savepoint(session):
                    params = {"id": taken_back, "name": "t"}
                    await database.core_later(session, prepare(_INSERT), params)
                    raise LookupError("the tool failed")
            async with log.savepoint(session):
                pass
            await database.core_later(session, prepare(_INSERT), {"id": kept_too, "name": "k"})
        driver.pgconn.untrace()
    trips = _round_trips(_sent(trace))
    assert len(trips) == 2, trips
    assert kept in trips[0] and kept_too in trips[1] and trips[1].endswith('; COMMIT"')
    assert not any("SAVEPOINT" in trip or taken_back in trip for trip in trips)
    async with db.read(ALL_STORES) as session:
        found = await core(session, prepare(_THESE), {"ids": [kept, taken_back, kept_too]})
        assert sorted(row.id for row in found) == sorted([kept, kept_too])
    assert store_id


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
async def test_a_held_insert_fails_at_its_savepoints_end(db: Database) -> None:
    """An insert held inside a savepoint is sent at its ``RELEASE`` at the latest (not held
    past it, as an append may be): its error is raised where the savepoint ends, and the unit
    then fails whole, as one whose insert had failed at once."""
    store_id, (other,) = await new_store(db), new_ids(1)
    raised: list[Exception] = []

    async def unit() -> None:
        async with db.write(ALL_STORES) as session:
            await database.core_later(session, prepare(_INSERT), {"id": other, "name": "b"})
            try:
                async with log.savepoint(session):
                    await session.execute(select(StoreRow.name).where(StoreRow.id == store_id))
                    params = {"id": store_id, "name": "again"}  # its key is taken
                    await database.core_later(session, prepare(_INSERT), params)
            except IntegrityError as error:
                raised.append(error)

    with pytest.raises(DBAPIError, match="aborted"):
        await unit()
    assert len(raised) == 1  # where the savepoint ended
    async with db.read(ALL_STORES) as session:
        assert (await core(session, prepare(_READ), {"store": other})).first() is None
