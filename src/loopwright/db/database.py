"""The database handle: async engines, read and write units of work, commit hooks.

SQLite (the embedded default) runs in WAL mode with a busy timeout, statements inline on the
loop (``sqlite_inline``). Write transactions start with ``BEGIN IMMEDIATE`` so two writers
never deadlock on a lock upgrade, and writers inside one process queue on an ``asyncio.Lock``
instead of spinning in SQLite's busy handler. Other processes on the same file (the CLI while
the server runs) wait on the busy timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from loopwright.db.sqlite_inline import connect_inline
from loopwright.domain.events import Event

CommitHook = Callable[[Sequence[Event]], None]
PENDING_EVENTS = "loopwright.pending_events"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_WRITE_BUSY_TIMEOUT_MS = 10_000  # a write waits on the loop: keep it short


def _make_sqlite_begin(statement: str) -> Callable[[Connection], None]:
    def begin(conn: Connection) -> None:
        conn.exec_driver_sql(statement)

    return begin


def create_engine(url: str) -> AsyncEngine:
    """The write engine (SQLite: inline, ``BEGIN IMMEDIATE``) or the PostgreSQL engine."""
    if url.startswith("sqlite"):
        path = make_url(url).database or ""

        async def connect() -> Any:
            return connect_inline(path, SQLITE_WRITE_BUSY_TIMEOUT_MS, read_only=False)

        engine = create_async_engine(url, async_creator=connect, pool_size=2, max_overflow=2)
        event.listen(engine.sync_engine, "begin", _make_sqlite_begin("BEGIN IMMEDIATE"))
        return engine
    return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


def create_sqlite_read_engine(url: str) -> AsyncEngine:
    """Reads run inline (see ``sqlite_inline``) in autocommit: each statement sees the latest
    commit, the read-committed behaviour the code also gets on PostgreSQL."""
    path = make_url(url).database or ""

    async def connect() -> Any:
        return connect_inline(path, SQLITE_BUSY_TIMEOUT_MS, read_only=True)

    return create_async_engine(
        url,
        async_creator=connect,
        pool_size=10,
        max_overflow=40,
        pool_reset_on_return=None,  # autocommit and query_only: nothing to roll back
    )


class Database:
    """Owns the engines; hands out sessions; publishes appended events after commit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.write_engine = create_engine(url)
        self.engine = create_sqlite_read_engine(url) if self.is_sqlite else self.write_engine
        self._read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._commit_hooks: list[CommitHook] = []

    def on_commit(self, hook: CommitHook) -> None:
        self._commit_hooks.append(hook)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        if self._write_lock is None:
            async with self._write_transaction() as session:
                yield session
            return
        async with self._write_lock, self._write_transaction() as session:
            yield session

    @asynccontextmanager
    async def _write_transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._write_sessions() as session:
            async with session.begin():
                yield session
            events: list[Event] = session.info.pop(PENDING_EVENTS, [])
        if events:
            for hook in self._commit_hooks:
                hook(events)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
