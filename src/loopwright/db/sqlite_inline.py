"""A driver shim that runs SQLite statements inline on the event loop, without a thread hop.

``aiosqlite`` sends every statement to a worker thread and back; for the small statements
this server runs, that hop costs ten times the statement, and its GIL hand-offs serialize
badly under load. This class looks like an ``aiosqlite`` connection to SQLAlchemy's adapter,
but each coroutine completes at once.

Reads in WAL mode never wait for writers. Writes are serialized inside the process by
``Database``'s write lock, so a write waits only when another process (the CLI) holds the
file's write lock — for the few milliseconds of its transaction, bounded by the busy timeout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        self._cursor.execute(sql, parameters if parameters is not None else ())
        return self

    async def executemany(self, sql: str, seq_of_parameters: Sequence[Any]) -> InlineCursor:
        self._cursor.executemany(sql, seq_of_parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._connection.cursor())

    async def commit(self) -> None:
        self._connection.commit()

    async def rollback(self) -> None:
        self._connection.rollback()

    async def close(self) -> None:
        self._connection.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection.create_function(*args, **kwargs)

    def stop(self) -> None:
        self._connection.close()


def connect_inline(path: str, busy_timeout_ms: int, *, read_only: bool) -> InlineConnection:
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
    for pragma in pragmas:
        connection.execute(pragma)
    return InlineConnection(connection)
