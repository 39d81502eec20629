"""``LoopConnection``: psycopg's connection with a leaner wait, which must keep psycopg's
behaviour: replies of many reads, errors, and an interrupted wait (the query cancelled on
the server, the connection usable again)."""

from __future__ import annotations

import asyncio
import time

import pytest
from psycopg.pq import TransactionStatus

from loopwright.db.pg_connection import LoopConnection
from loopwright.events.pg_notify import conninfo


async def test_round_trips_and_errors_as_psycopgs(quiet_pg_url: str) -> None:
    async with await LoopConnection.connect(conninfo(quiet_pg_url), autocommit=True) as conn:
        rows = await (
            await conn.execute("SELECT %s::int + 1, repeat('x', 100000)", (41,))
        ).fetchall()
        assert rows[0][0] == 42 and len(rows[0][1]) == 100_000  # a reply of many reads
        with pytest.raises(Exception, match="division by zero"):
            await conn.execute("SELECT 1 / 0")
        assert (await (await conn.execute("SELECT 1")).fetchone()) == (1,)


async def test_a_cancelled_wait_cancels_its_query_on_the_server(quiet_pg_url: str) -> None:
    async with await LoopConnection.connect(conninfo(quiet_pg_url), autocommit=True) as conn:
        sleeping = asyncio.ensure_future(conn.execute("SELECT pg_sleep(30)"))
        await asyncio.sleep(0)  # the task's first step sends the query, then waits
        assert conn.pgconn.transaction_status == TransactionStatus.ACTIVE
        started = time.monotonic()
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        assert time.monotonic() - started < 10  # cancelled there, not waited out
        assert (await (await conn.execute("SELECT 1")).fetchone()) == (1,)  # usable again
