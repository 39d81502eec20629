"""SQLite on the event loop: plain ``sqlite3`` connections behind synchronous engines, and
``InlineSession``, the ``AsyncSession`` API over a synchronous ORM session.

The statements this server runs take tens of microseconds. An async driver would add a thread
hop per statement (``aiosqlite``), and SQLAlchemy's asyncio layer a greenlet switch per call
and per driver operation; measured on this server's transactions, the asyncio path cost 2.3x
the synchronous one (430-630 µs against 170-240 µs for an event append). So on SQLite the
statements run synchronously on the loop thread, and the code above keeps one API for both
databases: it is written against ``AsyncSession``, which on PostgreSQL is the real one.

Reads in WAL mode never wait for writers. Writes are serialized inside the process by
``Database``'s write lock and across processes by a ``flock`` waited for off the loop
(``sqlite_writer_lock``), so ``BEGIN IMMEDIATE`` waits in SQLite's busy handler, on the loop,
only for a writer that takes neither (a migration, an outside tool).
"""

from __future__ import annotations

import sqlite3
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.pool import QueuePool, StaticPool

from loopwright.db import json_codec, prepared
from loopwright.db.prepared import Fetched, Params, Prepared
from loopwright.db.sqlite_checkpoint import JOURNAL_SIZE_LIMIT_BYTES


def connect(path: str, busy_timeout_ms: int, *, read_only: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are begun explicitly), WAL, foreign keys
    on, and ``synchronous=NORMAL``: a commit survives a process crash; a power loss may lose
    the last commits but never corrupts the file."""
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    pragmas = [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={busy_timeout_ms}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    ]
    if read_only:
        pragmas.append("PRAGMA query_only=ON")
    else:  # checkpoints run on their own thread (``sqlite_checkpoint``)
        pragmas += [
            "PRAGMA wal_autocheckpoint=0",
            f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT_BYTES}",
        ]
    for pragma in pragmas:
        connection.execute(pragma)
    return connection


def create_inline_engine(
    path: str, busy_timeout_ms: int, *, pool_size: int, max_overflow: int
) -> Engine:
    """Readers run each statement in autocommit, seeing the latest commit (the read-committed
    behaviour the code also gets on PostgreSQL)."""
    return create_engine(
        f"sqlite:///{path}",
        creator=lambda: connect(path, busy_timeout_ms, read_only=True),
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_reset_on_return=None,
    )


class WriteConnection:
    """The process's one write connection (its writers take turns: ``Database.write``), held
    by the write engine's ``StaticPool``: the same for SQLAlchemy and the driver."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._driver: sqlite3.Connection | None = None

    def get(self) -> sqlite3.Connection:
        """Called first between transactions (``Database.write`` does, before each)."""
        if self._driver is None:
            # through the pool, so SQLAlchemy sets the connection up (its first connect
            # ends with a rollback) before any transaction begins on it
            pooled = self.engine.raw_connection()
            driver = pooled.driver_connection
            pooled.close()
            assert isinstance(driver, sqlite3.Connection)
            self._driver = driver
        return self._driver

    def close(self) -> None:
        self._driver = None
        self.engine.dispose()


def create_writer(path: str, busy_timeout_ms: int) -> WriteConnection:
    """The write connection, and an engine that always hands it out, for the ORM's statements.
    A write transaction begins with ``BEGIN IMMEDIATE``, so two writers never deadlock on a
    lock upgrade: begun by the transaction's first prepared statement (on the driver) or by
    SQLAlchemy's first use of the connection, whichever comes first."""
    engine = create_engine(
        f"sqlite:///{path}",
        creator=lambda: connect(path, busy_timeout_ms, read_only=False),
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
        poolclass=StaticPool,
        # no rollback when the ORM gives the connection back: a transaction a prepared
        # statement began may go on; ``Database.write`` ends every transaction itself
        pool_reset_on_return=None,
    )
    event.listen(engine, "begin", _begin_immediate)
    return WriteConnection(engine)


def _begin_immediate(connection: Connection) -> None:
    # On the driver's connection: SQLAlchemy's statement machinery cost more than the BEGIN.
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    if not driver.in_transaction:  # unless a prepared statement began the transaction
        driver.execute("BEGIN IMMEDIATE")


class ReadConnections:
    """Read-only connections for the prepared statements of read units, kept apart from
    SQLAlchemy's pool: checking one out through a session (its transaction, the pool's
    bookkeeping, the return) cost several times the statement it ran. Used on the loop only."""

    def __init__(self, path: str, busy_timeout_ms: int, keep: int) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._keep = keep
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    def take(self) -> sqlite3.Connection:
        if self._idle:
            return self._idle.pop()
        return connect(self._path, self._busy_timeout_ms, read_only=True)

    def give_back(self, connection: sqlite3.Connection) -> None:
        if self._closed or connection.in_transaction or len(self._idle) >= self._keep:
            connection.close()
        else:
            self._idle.append(connection)

    def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()


class InlineSession(AsyncSession):
    """``AsyncSession`` whose methods run the synchronous session at once, without a
    greenlet: its SQLite connections never block for I/O the loop could use.

    Covers what this code base calls: ``execute``, ``scalar``, ``scalars``, ``get``,
    ``delete``, ``flush``, ``refresh``, ``begin_nested``, ``commit``, ``rollback``, ``close``;
    ``add``, ``add_all`` and ``info`` already pass straight through. Core statements go
    through ``database.core``. Streaming results and ``connection()`` are not offered."""

    def __init__(
        self,
        engine: Engine,
        reads: ReadConnections | None = None,
        writer: WriteConnection | None = None,
    ) -> None:
        """A reader's with ``reads``, where its prepared statements take a connection; a
        writer's with ``writer``, the write engine's one connection."""
        super().__init__(expire_on_commit=False)
        self.sync_session.bind = engine
        self._reads = reads
        self._writer = writer
        self._driver: sqlite3.Connection | None = None

    def run_prepared(self, statement: Prepared, params: Params) -> Fetched | None:
        """``statement`` on the driver: a writer's in its transaction, begun here
        (``BEGIN IMMEDIATE``) unless SQLAlchemy began it; a reader's on one of ``reads`` (each
        statement reads the latest commit, as the session's own would); None when SQLAlchemy
        must run it. The driver's errors are raised as SQLAlchemy's (``IntegrityError``...),
        as its path does."""
        try:
            if self._writer is not None:
                driver = self._writer.get()
                if not driver.in_transaction:
                    driver.execute("BEGIN IMMEDIATE")
            elif self._driver is not None:
                driver = self._driver
            elif self._reads is not None:
                driver = self._driver = self._reads.take()
            else:
                raise TypeError("an InlineSession runs prepared statements with a connection")
            return prepared.execute(driver, statement, params)
        except sqlite3.Error as error:
            raise DBAPIError.instance(
                statement.sql_of(params), params, error, sqlite3.Error
            ) from error

    def commit_writer(self) -> None:
        """Commit the write transaction: through the ORM session if it took part (it flushes
        first), else on the driver, where prepared statements began it."""
        if self.sync_session.in_transaction():
            self.sync_session.commit()
        writer = self._writer.get() if self._writer is not None else None
        if writer is not None and writer.in_transaction:
            try:
                writer.commit()
            except sqlite3.Error as error:
                raise DBAPIError.instance("COMMIT", None, error, sqlite3.Error) from error

    def rollback_writer(self) -> None:
        self.sync_session.rollback()
        writer = self._writer.get() if self._writer is not None else None
        if writer is not None and writer.in_transaction:
            writer.rollback()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.scalars(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.get(*args, **kwargs)

    async def delete(self, instance: object) -> None:
        self.sync_session.delete(instance)

    async def flush(self, objects: Any = None) -> None:
        self.sync_session.flush(objects)

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        self.sync_session.refresh(*args, **kwargs)

    async def commit(self) -> None:
        self.sync_session.commit()

    async def rollback(self) -> None:
        self.sync_session.rollback()

    async def close(self) -> None:
        self.end()

    def end(self) -> None:
        """Give back what the session holds: its connections, its ORM objects (detached)."""
        driver, self._driver = self._driver, None
        if driver is not None and self._reads is not None:
            self._reads.give_back(driver)
        session = self.sync_session
        if session.in_transaction() or session.identity_map:  # else it has nothing to close
            session.close()

    async def connection(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("InlineSession has no async connection: use database.core()")

    def begin_nested(self) -> Any:
        return _Savepoint(self._begin_nested)

    def _begin_nested(self) -> SessionTransaction:
        """The savepoint at once, not when SQLAlchemy next needs the connection: the prepared
        statements inside it run on the driver, past SQLAlchemy, and must be inside it."""
        transaction = self.sync_session.begin_nested()
        self.sync_session.connection()
        return transaction

    async def __aexit__(self, *exc: object) -> None:
        self.end()


class _Savepoint:
    """``async with session.begin_nested():`` over the synchronous savepoint: released when the
    block ends, rolled back if it raises."""

    def __init__(self, begin: Any) -> None:
        self._begin = begin
        self._transaction: SessionTransaction | None = None

    async def __aenter__(self) -> SessionTransaction:
        self._transaction = self._begin()
        return self._transaction

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._transaction is not None
        self._transaction.__exit__(exc_type, exc, traceback)
