"""PostgreSQL units of work on the driver's connection: ``PgSession``.

A unit through SQLAlchemy's asyncio session cost about 200 µs of client CPU beyond its round
trips (measured: a write unit of one statement, 470 µs against 280 µs on psycopg alone): the
session's transaction, a greenlet switch to reach the connection, another to commit, another
to close and give the connection back. The hot path's statements are prepared ones, which
run on psycopg's connection anyway (``prepared.execute_pg``), so ``PgSession`` takes a pooled
connection itself, begins and commits on psycopg directly, and joins the ORM to that same
connection only for what the ORM does (``execute``, ``get``, ``add``, flushes, savepoints):
those go through a SQLAlchemy ``Connection`` over the unit's pooled connection, so they are in
the same transaction, and the ORM commits it when it took part.

A unit holds back what need not go at once (``hold``; ``pg_simple.Held``): its ``BEGIN``
(with its store's scope) until its first statement, and the statements whose results it needs
only later (an event append: ``database.core_later``). They go with its next statement: a
prepared one's in one query (``prepared.execute_pg_simple``); before anything that goes through
SQLAlchemy (the ORM, a Core statement, a savepoint), alone, from SQLAlchemy's
``before_cursor_execute`` event (``send_held_first``); else with its ``COMMIT``. A unit that
runs no statement sends nothing. An append is a unit's last statement more often than not:
it then costs no round trip of its own, and the store row's lock it takes is held for no
round trip before the commit.

The pool is SQLAlchemy's (its size, the idle check of ``database._ping_when_idle``), with no
reset when a connection is given back: ``release`` gives it back only idle, rolling back or
discarding one that is not.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import await_only, greenlet_spawn

from loopwright.db import pg_simple

IDLE = TransactionStatus.IDLE
_HELD = "loopwright.held"


class PgSession(AsyncSession):
    """``AsyncSession`` over one pooled connection, for one unit of work (``Database``)."""

    def __init__(self, engine: AsyncEngine, pooled: PoolProxiedConnection) -> None:
        super().__init__(expire_on_commit=False)
        self.pooled = pooled
        driver = pooled.driver_connection
        assert isinstance(driver, psycopg.AsyncConnection)
        self.driver: psycopg.AsyncConnection[Any] = driver
        self.sync_session.bind = Connection(engine.sync_engine, connection=pooled)
        self.read_scope: list[pg_simple.Held] | None = None
        """A read unit's: what puts a statement under its store's scope (nothing for every
        store), sent with each prepared statement it runs outside a transaction."""

    def begin_later(self, query: bytes, results: int) -> None:
        """The unit's ``BEGIN`` (``query``, giving ``results``), to go with what comes first."""
        self.pooled.info[_HELD] = [pg_simple.Held(query, results, begins=True)]

    def hold(self, held: pg_simple.Held) -> None:
        """Send ``held`` with the unit's next statement, or its ``COMMIT``."""
        self.pooled.info.setdefault(_HELD, []).append(held)

    @property
    def holds(self) -> bool:
        """Whether something waits to go with the next statement."""
        return _HELD in self.pooled.info

    def take_held(self) -> list[pg_simple.Held]:
        """What waits, now to be sent by the caller."""
        found: list[pg_simple.Held] = self.pooled.info.pop(_HELD, [])
        return found

    async def send_held(self) -> None:
        """Send what waits, alone (what comes next cannot carry it)."""
        held = self.take_held()
        if held:
            try:
                await pg_simple.send_held(self.driver, held)
            except psycopg.Error as error:
                raise _wrapped(error) from error

    def orm_took_part(self) -> bool:
        """Whether the ORM began its transaction (on the same connection): then it commits."""
        return self.sync_session.in_transaction()

    async def commit_unit(self) -> None:
        """Commit the unit's transaction: what it holds first; through the ORM when it took
        part (it flushes first), else on the driver (with what it holds, in one round trip)."""
        try:
            if self.orm_took_part():
                await self.send_held()  # before the ORM flushes what it holds, and commits
                _refuse_aborted(self.driver)
                await self.commit()
            held = self.take_held()
            if not all(h.begins for h in held):  # the last statements and the COMMIT
                _refuse_aborted(self.driver)
                await pg_simple.send_held(self.driver, held, b"COMMIT")
            elif self.driver.pgconn.transaction_status != IDLE:
                _refuse_aborted(self.driver)
                await self.driver.commit()
        except psycopg.Error as error:
            raise _wrapped(error) from error

    async def release(self) -> None:
        """End the unit: roll back what it left open, give the connection back idle (or
        discard it), detach the ORM's objects."""
        self.pooled.info.pop(_HELD, None)
        try:
            if self.orm_took_part():
                await self.rollback()
            if not self.driver.closed and self.driver.pgconn.transaction_status != IDLE:
                await self.driver.rollback()
        except (psycopg.Error, DBAPIError, OSError):
            pass  # the connection is discarded below
        finally:
            # in a greenlet: a connection the pool does not keep (beyond its size) is closed
            # there, which on psycopg is awaited
            await greenlet_spawn(self._give_back)
            if self.sync_session.identity_map:
                self.sync_session.expunge_all()

    def _give_back(self) -> None:
        """Back to the pool: idle, or discarded (unless SQLAlchemy discarded it already, when
        an ORM statement was interrupted)."""
        spoiled = self.driver.closed or self.driver.pgconn.transaction_status != IDLE
        if spoiled and self.pooled.is_valid:
            self.pooled.invalidate()
        self.pooled.close()


def _refuse_aborted(driver: psycopg.AsyncConnection[Any]) -> None:
    """A unit whose transaction an error aborted (one its code caught: a held statement's,
    raised at a statement it went before) must not end as if it committed: PostgreSQL would
    answer its ``COMMIT`` with a ``ROLLBACK``, and psycopg raises nothing."""
    if driver.pgconn.transaction_status == TransactionStatus.INERROR:
        raise psycopg.errors.InFailedSqlTransaction(
            "the transaction was aborted by an earlier error: nothing was committed"
        )


def _wrapped(error: psycopg.Error) -> StatementError:
    return DBAPIError.instance("COMMIT", None, error, psycopg.Error)


def send_held_first(engine: Engine) -> None:
    """Before SQLAlchemy's statements (the ORM's, a Core statement's, a savepoint's), send
    what the unit holds (its ``BEGIN``, statements whose results could wait), in order, inside
    the greenlet its statements run in (SQLAlchemy's ``begin`` sends nothing on psycopg). At a
    ``ROLLBACK TO SAVEPOINT`` what it holds is dropped: held inside the savepoint, it goes
    back with it (and a held statement's error must not take the rollback's place)."""

    @event.listens_for(engine, "before_cursor_execute")
    def before(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        held: list[pg_simple.Held] | None = connection.connection.info.pop(_HELD, None)
        if not held or statement.startswith("ROLLBACK TO SAVEPOINT"):
            return
        driver = connection.connection.driver_connection
        assert isinstance(driver, psycopg.AsyncConnection)
        try:
            await_only(pg_simple.send_held(driver, held))
        except psycopg.Error as error:
            raise DBAPIError.instance(statement, None, error, psycopg.Error) from error
