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

    def holds_only_savepoint_safe(self) -> bool:
        """Whether all that waits may go past a savepoint (``pg_simple.Held``)."""
        held: list[pg_simple.Held] = self.pooled.info.get(_HELD, [])
        return all(h.begins or h.savepoint_safe for h in held)

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
        """Commit the unit's transaction: what it holds with the ``COMMIT``, in one round trip
        (on the driver; when the ORM took part it flushes first, and then only ends its own
        transaction: psycopg sends no ``COMMIT`` on a connection already idle)."""
        try:
            orm = self.orm_took_part()
            if orm:
                await self.flush()  # its statements go after what is held (``send_held_first``)
            held = self.take_held()
            if not all(h.begins for h in held):  # the last statements and the COMMIT
                _refuse_aborted(self.driver)
                await pg_simple.send_held(self.driver, held, b"COMMIT")
            elif self.driver.pgconn.transaction_status != IDLE:
                _refuse_aborted(self.driver)
                await self.driver.commit()
            if orm:
                await self.commit()
                self.take_held()  # releases of savepoints the commit ended (it released them)
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


def hold_savepoints(engine: Engine) -> None:
    """A savepoint's statements go with the unit's next one, like what ``core_later`` holds:
    ``SAVEPOINT`` has no result to wait for, and neither has ``RELEASE`` when nothing held
    inside could fail there (``savepoint_safe``). A savepoint inside which nothing was sent
    is never sent: released, it is dropped; rolled back, so is what was held inside it. A
    built-in tool's call runs in one: its two statements took two round trips of the unit,
    which holds its store's row lock from its first event append on.

    Set on this engine's dialect alone (SQLAlchemy asks it for a savepoint's statements)."""
    dialect = engine.dialect
    sent_rollback_to = dialect.do_rollback_to_savepoint

    def savepoint(connection: Connection, name: str) -> None:
        statement = f"SAVEPOINT {name}".encode()
        held = pg_simple.Held(statement, 1, savepoint_safe=True, savepoint=name)
        connection.connection.info.setdefault(_HELD, []).append(held)

    def release(connection: Connection, name: str) -> None:
        info = connection.connection.info
        held: list[pg_simple.Held] = info.get(_HELD, [])
        begun = _held_savepoint(held, name)
        if begun is not None and begun == len(held) - 1:
            del held[begun]  # nothing ran inside it
            if not held:
                del info[_HELD]
            return
        statement = f"RELEASE SAVEPOINT {name}".encode()
        inside = held[begun + 1 :] if begun is not None else held
        if all(h.savepoint_safe for h in inside):
            info.setdefault(_HELD, []).append(pg_simple.Held(statement, 1, savepoint_safe=True))
            return
        # what ran inside fails here, inside the savepoint, as it would have at once
        del info[_HELD]
        driver = connection.connection.driver_connection
        assert isinstance(driver, psycopg.AsyncConnection)
        try:
            await_only(pg_simple.send_held(driver, held, statement))
        except psycopg.Error as error:
            raise DBAPIError.instance(statement.decode(), None, error, psycopg.Error) from error

    def rollback_to(connection: Connection, name: str) -> None:
        info = connection.connection.info
        held: list[pg_simple.Held] = info.get(_HELD, [])
        begun = _held_savepoint(held, name)
        if begun is None:  # it was sent: what is held came after it (``send_held_first``)
            sent_rollback_to(connection, name)
            return
        del held[begun:]  # none of it was sent
        if not held:
            del info[_HELD]

    dialect.do_savepoint = savepoint  # type: ignore[method-assign]
    dialect.do_release_savepoint = release  # type: ignore[method-assign]
    dialect.do_rollback_to_savepoint = rollback_to  # type: ignore[method-assign]


def _held_savepoint(held: list[pg_simple.Held], name: str) -> int | None:
    """Where the ``SAVEPOINT`` named ``name`` waits in ``held``, if it was not sent."""
    for at in range(len(held) - 1, -1, -1):
        if held[at].savepoint == name:
            return at
    return None
