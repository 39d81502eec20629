"""The database handle: engines, read and write units of work, commit hooks.

SQLite (the embedded default) runs in WAL mode with a busy timeout, its statements
synchronously on the loop thread behind ``InlineSession`` (see ``sqlite_inline``). Write
transactions start with ``BEGIN IMMEDIATE`` so two writers never deadlock on a lock upgrade,
and writers inside one process queue on an ``asyncio.Lock`` instead of spinning in SQLite's
busy handler. Writers in other processes on the same file (more server processes, the CLI)
queue on a ``flock`` waited for off the loop (``sqlite_writer_lock``). PostgreSQL runs on
psycopg behind ``PgSession`` (see ``pg_session``): a unit begins and commits on the driver, and
the ORM joins its connection through SQLAlchemy's asyncio layer when used.

Every unit of work names its scope: a store id, or ``ALL_STORES`` for the few that span
stores. On PostgreSQL a store-scoped transaction runs under row-level security for that store
(``row_security``); on SQLite the scope costs nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, overload

import psycopg
from psycopg.pq import Escaping, TransactionStatus
from sqlalchemy import Engine, Executable, event, make_url
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, DisconnectionError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from loopwright.db import json_codec, pg_simple, prepared
from loopwright.db.pg_session import PgSession, hold_savepoints, send_held_first
from loopwright.db.prepared import Fetched, Params, Prepared
from loopwright.db.row_security import (
    ALL_STORES,
    BEGIN_IN_STORE,
    BEGIN_IN_STORE_RESULTS,
    IN_STORE,
    StoreScope,
)
from loopwright.db.sqlite_checkpoint import Checkpointer
from loopwright.db.sqlite_inline import (
    InlineSession,
    ReadConnections,
    create_inline_engine,
    create_writer,
)
from loopwright.db.sqlite_writer_lock import WriterLock
from loopwright.domain.events import Event

CommitHook = Callable[[Sequence[Event]], None]
PENDING_EVENTS = "loopwright.pending_events"
DEFERRED_EVENTS = "loopwright.deferred_events"
"""``session.info[DEFERRED_EVENTS]``: events ``events.log.defer`` holds for the transaction's
next append; a transaction that still holds some at its end is rolled back (a defect)."""
AFTER_COMMIT = "loopwright.after_commit"
"""``session.info[AFTER_COMMIT]``: callables run once the transaction committed (metrics of
what it did; a rolled-back transaction runs none)."""
NOTIFY_ORIGIN = "loopwright.notify_origin"
"""``session.info[NOTIFY_ORIGIN]``: on PostgreSQL with a notifier, this process's name, which
the appending transaction puts in its notification (``events.log``)."""
NOTIFY_QUEUED = "loopwright.notify_queued"
"""``session.info[NOTIFY_QUEUED]``: an API-only process's transaction, whose queued runs the
workers are told of (they admit them at once)."""
PING_IDLE_S = 1.0
"""A pooled PostgreSQL connection idle for longer is checked before use (``_ping_when_idle``)."""
_IDLE_SINCE = "loopwright.idle_since"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_WRITE_BUSY_TIMEOUT_MS = 10_000  # a write waits on the loop: keep it short
WRITE_GUARD: ContextVar[Callable[[AsyncSession], Awaitable[None]] | None] = ContextVar(
    "loopwright_write_guard", default=None
)
"""Run first in every write transaction of the task that set it (and of the tasks it starts):
a run's execution checks there that it still owns the run (``runtime.fencing``)."""


@overload
async def core(
    session: AsyncSession, statement: Prepared, params: Params = None
) -> Fetched | CursorResult[Any]: ...


@overload
async def core(
    session: AsyncSession, statement: Executable, params: Params = None
) -> CursorResult[Any]: ...


async def core(
    session: AsyncSession, statement: Executable | Prepared, params: Params = None
) -> Fetched | CursorResult[Any]:
    """Run a prebuilt Core statement on the session's connection, in its transaction, without
    the ORM's per-statement work (the hot path's statements: event appends, run records); a
    ``Prepared`` one goes straight to the driver on SQLite (``prepared``)."""
    if isinstance(session, InlineSession):
        if isinstance(statement, Prepared):
            found = session.run_prepared(statement, params)
            if found is not None:
                return found
            statement = statement.statement
        return session.sync_session.connection().execute(statement, params)
    if isinstance(statement, Prepared):
        driver = await _driver(session)
        try:
            found = await _execute_pg(session, driver, statement, params)
        except psycopg.Error as error:
            raise _statement_error(statement, params, error) from error
        if found is not None:
            return found
        statement = statement.statement
    connection = await session.connection()
    return await connection.execute(statement, params)


async def _execute_pg(
    session: AsyncSession,
    driver: psycopg.AsyncConnection[Any],
    statement: Prepared,
    params: Params,
) -> Fetched | None:
    """A prepared statement on PostgreSQL. In a read unit outside a transaction: in one of
    its own, with the store's scope, in one round trip (``PgSession.read_scope``). In a write
    unit: with what it holds (its ``BEGIN``, appends), in one round trip (``PgSession.hold``).
    Else through psycopg's cursor."""
    if not isinstance(session, PgSession):
        return await prepared.execute_pg(driver, statement, params)
    if params is None or isinstance(params, Mapping):
        if session.read_scope is not None and not statement.locks and _idle(driver):
            return await prepared.execute_pg_simple(driver, session.read_scope, statement, params)
        if session.holds:
            held = session.take_held()
            found = await prepared.execute_pg_simple(driver, held, statement, params)
            if found is None:  # SQLAlchemy runs it: what was held goes first, alone
                await pg_simple.send_held(driver, held)
            return found
    elif session.holds:
        await session.send_held()
    return await prepared.execute_pg(driver, statement, params)


def _statement_error(statement: Prepared, params: Params, error: psycopg.Error) -> StatementError:
    """psycopg's error as SQLAlchemy raises it (``IntegrityError`` for a unique key's)."""
    return DBAPIError.instance(statement.sql_of(params, pg=True), params, error, psycopg.Error)


def _idle(driver: psycopg.AsyncConnection[Any]) -> bool:
    return driver.pgconn.transaction_status == TransactionStatus.IDLE


async def core_later(
    session: AsyncSession,
    statement: Prepared,
    params: Mapping[str, Any],
    then: Callable[[Fetched | CursorResult[Any]], None] | None = None,
    *,
    savepoint_safe: bool = False,
) -> None:
    """Run a prepared statement whose result the transaction needs only later (an event
    append's seq) or not at all (an insert of rows whose keys the caller made): on PostgreSQL
    it goes with the unit's next statement, or its ``COMMIT``, in the same round trip, and
    ``then`` takes its result when it comes (its error raises there, so the unit fails as it
    would have, a unique key's ``IntegrityError`` too); elsewhere at once. Nothing the unit
    runs in between can tell: the statement reaches the database before anything after it.
    ``savepoint_safe``: it may go past a savepoint's start or end, as it fails only when the
    unit would fail anyway (``pg_simple.Held``)."""
    if isinstance(session, PgSession):
        try:
            held = prepared.hold_pg(
                session.driver, statement, params, then, savepoint_safe=savepoint_safe
            )
        except psycopg.Error as error:
            raise _statement_error(statement, params, error) from error
        if held is not None:
            session.hold(held)
            return
    result = await core(session, statement, params)
    if then is not None:
        then(result)


async def send_held_before_savepoint(session: AsyncSession) -> None:
    """Before a savepoint that catches its own errors: send what the unit holds now unless
    all of it may go past the savepoint (``savepoint_safe``), so that no error of a statement
    from before it lands in the savepoint's handler."""
    if isinstance(session, PgSession) and not session.holds_only_savepoint_safe():
        await session.send_held()


async def _driver(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    """psycopg's connection under the session's transaction."""
    if isinstance(session, PgSession):
        return session.driver
    raise TypeError("prepared statements on PostgreSQL run in a Database unit (PgSession)")


async def savepoint_now(session: AsyncSession) -> None:
    """Send the savepoint ``begin_nested`` just began: SQLAlchemy sends it before its next
    statement, and prepared statements run past SQLAlchemy (on SQLite ``InlineSession``
    sends it at once)."""
    if not isinstance(session, InlineSession):
        await session.connection()


def after_commit(session: AsyncSession, then: Callable[[], None]) -> None:
    """Run ``then`` once the session's write transaction has committed."""
    session.info.setdefault(AFTER_COMMIT, []).append(then)


def has_row_locks(session: AsyncSession) -> bool:
    """Whether ``SELECT ... FOR UPDATE`` locks anything in this session's transaction: on
    PostgreSQL it does; SQLite's write transaction holds the whole database already."""
    return not isinstance(session, InlineSession)


def failures_spoil_transaction(session: AsyncSession) -> bool:
    """Whether a statement that fails spoils the rest of this session's transaction: on
    PostgreSQL any error aborts it until a rollback (to a savepoint); SQLite undoes only the
    failed statement."""
    return not isinstance(session, InlineSession)


def _check_deferred(session: AsyncSession) -> None:
    if session.info.get(DEFERRED_EVENTS):
        raise RuntimeError("a transaction ended with deferred events it did not append")


def _enter(unit: PgSession, scope: StoreScope, *, reads: bool = False) -> None:
    """Put a store-scoped transaction under its store's row-level security, in its
    ``BEGIN`` (``row_security.BEGIN_IN_STORE``); a cross-store one runs as the connecting
    user, which the policies do not restrict. The ``BEGIN`` goes with the unit's first
    statement (``PgSession.begin_later``); a unit that runs none sends nothing. A read unit's
    prepared statements run outside its transaction each with the scope alone
    (``PgSession.read_scope``), unless something began it."""
    if scope is ALL_STORES:
        unit.begin_later(b"BEGIN", 1)
        if reads:
            unit.read_scope = []
        return
    escaped = Escaping(unit.driver.pgconn).escape_literal(scope.encode())
    unit.begin_later(BEGIN_IN_STORE % escaped, BEGIN_IN_STORE_RESULTS)
    if reads:
        unit.read_scope = [pg_simple.Held(IN_STORE % escaped, 1)]


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled PostgreSQL connection before use only when it sat idle for more than
    ``PING_IDLE_S`` (a restarted server, a proxy's idle timeout): the check is a round trip,
    and a pre-ping on every checkout cost one per transaction. The pool hands out the most
    recently used connection first (``pool_use_lifo``), so under load none is pinged. A
    connection that fails its check is replaced; one that died while in use within the
    last ``PING_IDLE_S`` fails its transaction, and its disconnect empties the pool."""

    @event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since <= PING_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool replaces it and checks out another
            raise DisconnectionError("an idle connection failed its check") from exc


class Database:
    """Owns the engines; hands out sessions; publishes appended events after commit."""

    def __init__(self, url: str, pool_size: int = 20) -> None:
        """``pool_size``: PostgreSQL connections kept open; as many again open under load."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = make_url(url).database or ""
            self._sqlite_writer = create_writer(path, SQLITE_WRITE_BUSY_TIMEOUT_MS)
            self._sqlite_read = create_inline_engine(
                path, SQLITE_BUSY_TIMEOUT_MS, pool_size=10, max_overflow=40
            )
            self._sqlite_reads = ReadConnections(path, SQLITE_BUSY_TIMEOUT_MS, keep=10)
            self._checkpointer = Checkpointer(path)
            self._writer_lock = WriterLock(path, SQLITE_WRITE_BUSY_TIMEOUT_MS / 1000)
        else:
            self._engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_use_lifo=True,
                # ``PgSession.release`` gives connections back idle (or discards them)
                pool_reset_on_return=None,
                json_serializer=json_codec.dumps,
                json_deserializer=json_codec.loads,
            )
            _ping_when_idle(self._engine.sync_engine)
            send_held_first(self._engine.sync_engine)
            hold_savepoints(self._engine.sync_engine)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._commit_hooks: list[CommitHook] = []
        self.notify_origin: str | None = None
        """Set by the PostgreSQL notifier: appends then notify the other processes."""
        self.wake_workers = False
        """An API-only process: tell the workers of the runs it queues."""

    def on_commit(self, hook: CommitHook) -> None:
        self._commit_hooks.append(hook)

    @asynccontextmanager
    async def read(self, scope: StoreScope) -> AsyncIterator[AsyncSession]:
        """Reads of one store (its id) or, explicitly, of every store (``ALL_STORES``)."""
        if not self.is_sqlite:
            unit = PgSession(self._engine, await self._engine.raw_connection())
            try:
                _enter(unit, scope, reads=True)
                yield unit
                # COMMIT, not ROLLBACK: psycopg forgets the statements it prepared on the
                # connection at every ROLLBACK (and sends DEALLOCATE ALL)
                await unit.commit_unit()
            finally:
                await unit.release()
            return
        session = InlineSession(self._sqlite_read, self._sqlite_reads)
        try:
            yield session
        finally:
            session.end()

    @asynccontextmanager
    async def write(self, scope: StoreScope) -> AsyncIterator[AsyncSession]:
        """One transaction of one store (its id) or, explicitly, of every store
        (``ALL_STORES``): committed when the block ends, rolled back if it raises."""
        if self._write_lock is None:
            unit = PgSession(self._engine, await self._engine.raw_connection())
            try:
                if self.notify_origin is not None:
                    unit.info[NOTIFY_ORIGIN] = self.notify_origin
                    unit.info[NOTIFY_QUEUED] = self.wake_workers
                _enter(unit, scope)
                guard = WRITE_GUARD.get()
                if guard is not None:
                    await guard(unit)
                yield unit
                _check_deferred(unit)
                await unit.commit_unit()
                events: list[Event] = unit.info.pop(PENDING_EVENTS, [])
                after: list[Callable[[], None]] = unit.info.pop(AFTER_COMMIT, [])
            finally:
                await unit.release()
        else:
            async with self._write_lock, self._writer_lock:
                self._sqlite_writer.get()  # opened (if it must be) before the transaction
                session = InlineSession(self._sqlite_writer.engine, writer=self._sqlite_writer)
                try:
                    guard = WRITE_GUARD.get()
                    if guard is not None:
                        await guard(session)
                    yield session
                    _check_deferred(session)
                    session.commit_writer()
                    events = session.info.pop(PENDING_EVENTS, [])
                    after = session.info.pop(AFTER_COMMIT, [])
                except BaseException:
                    session.rollback_writer()
                    raise
                finally:
                    session.end()
        if events:
            for hook in self._commit_hooks:
                hook(events)
        for then in after:
            then()

    async def dispose(self) -> None:
        if self.is_sqlite:
            self._checkpointer.stop()
            self._writer_lock.close()
            self._sqlite_reads.close()
            self._sqlite_read.dispose()
            self._sqlite_writer.close()
        else:
            await self._engine.dispose()
