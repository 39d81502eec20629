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

A unit's ``BEGIN`` (with its store's scope) waits for its first statement and goes with it
(``pending_begin``): a prepared statement's in one query (``prepared.execute_pg_begun``);
before anything else that reaches the connection (the ORM, a Core statement), alone, from
SQLAlchemy's ``begin`` event (``begin_with_pending``). A unit that runs no statement sends
nothing.

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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import await_only, greenlet_spawn

from loopwright.db import pg_simple

IDLE = TransactionStatus.IDLE
_PENDING_BEGIN = "loopwright.pending_begin"


class PgSession(AsyncSession):
    """``AsyncSession`` over one pooled connection, for one unit of work (``Database``)."""

    def __init__(self, engine: AsyncEngine, pooled: PoolProxiedConnection) -> None:
        super().__init__(expire_on_commit=False)
        self.pooled = pooled
        driver = pooled.driver_connection
        assert isinstance(driver, psycopg.AsyncConnection)
        self.driver: psycopg.AsyncConnection[Any] = driver
        self.sync_session.bind = Connection(engine.sync_engine, connection=pooled)

    @property
    def pending_begin(self) -> bytes | None:
        """The unit's ``BEGIN`` (and scope), until its first statement sends it."""
        found: bytes | None = self.pooled.info.get(_PENDING_BEGIN)
        return found

    @pending_begin.setter
    def pending_begin(self, query: bytes | None) -> None:
        self.pooled.info[_PENDING_BEGIN] = query

    def take_pending_begin(self) -> bytes | None:
        """The pending ``BEGIN``, now to be sent by the caller."""
        found: bytes | None = self.pooled.info.pop(_PENDING_BEGIN, None)
        return found

    async def begin_now(self) -> None:
        """Send the pending ``BEGIN`` alone (a statement that cannot carry it comes next)."""
        begin = self.take_pending_begin()
        if begin is not None:
            await pg_simple.simple_query(self.driver, begin)

    def orm_took_part(self) -> bool:
        """Whether the ORM began its transaction (on the same connection): then it commits."""
        return self.sync_session.in_transaction()

    async def commit_unit(self) -> None:
        """Commit the unit's transaction: through the ORM when it took part (it flushes
        first), else on the driver."""
        if self.orm_took_part():
            await self.commit()
        if self.driver.pgconn.transaction_status != IDLE:
            try:
                await self.driver.commit()
            except psycopg.Error as error:
                raise DBAPIError.instance("COMMIT", None, error, psycopg.Error) from error

    async def release(self) -> None:
        """End the unit: roll back what it left open, give the connection back idle (or
        discard it), detach the ORM's objects."""
        self.pooled.info.pop(_PENDING_BEGIN, None)
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


def begin_with_pending(engine: Engine) -> None:
    """Before SQLAlchemy's first statement of a unit (the ORM's, a Core statement's), send the
    unit's pending ``BEGIN``: SQLAlchemy begins its transaction there (which on psycopg sends
    nothing), inside the greenlet its statements run in."""

    @event.listens_for(engine, "begin")
    def begin(connection: Connection) -> None:
        pending: bytes | None = connection.connection.info.pop(_PENDING_BEGIN, None)
        if pending is not None:
            driver = connection.connection.driver_connection
            assert isinstance(driver, psycopg.AsyncConnection)
            await_only(pg_simple.simple_query(driver, pending))
