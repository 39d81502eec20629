"""Statements in PostgreSQL's simple query protocol: several in one round trip.

psycopg sends a transaction's ``BEGIN`` alone, a round trip before its first statement, and
waits for each statement's result before the next. A unit of work here holds back what need
not go at once (``Held``): its ``BEGIN`` (with its store's scope: ``row_security``) and the
statements whose results it needs only later (an event append's); they go with its next
statement, or its ``COMMIT``, as one query of the simple protocol, the values bound
client-side as escaped literals (psycopg's ``ClientCursor.mogrify``, the quoting libpq does).
The results come back as the extended protocol's would (text), so psycopg loads them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import generators
from psycopg.adapt import Transformer
from psycopg.pq import ExecStatus
from psycopg.pq.abc import PGresult


async def simple_query(driver: psycopg.AsyncConnection[Any], query: bytes) -> list[PGresult]:
    """Send ``query`` (statements, values as escaped literals) in one round trip, past
    psycopg's cursors (psycopg begins no transaction of its own); its results, raising the
    first error among them."""
    pgconn = driver.pgconn
    async with driver.lock:
        pgconn.send_query(query)
        results: list[PGresult] = await driver.wait(generators.execute(pgconn))
    for result in results:
        if result.status == ExecStatus.FATAL_ERROR:
            raise psycopg.errors.error_from_result(result, encoding=driver.info.encoding)
    return results


@dataclass(frozen=True, slots=True)
class Held:
    """Statements a unit sends with its next one (or its ``COMMIT``): ``results``, how many
    results they give back; ``then``, what takes those results (not called if any failed);
    ``begins``, whether this is the unit's ``BEGIN`` (which alone need not be sent at all)."""

    query: bytes
    results: int
    then: Callable[[list[PGresult]], None] | None = None
    begins: bool = False


async def send_held(
    driver: psycopg.AsyncConnection[Any], held: Sequence[Held], statement: bytes | None = None
) -> list[PGresult]:
    """The ``held`` statements, then ``statement``, in one round trip; each held one's results
    handed to its ``then``; the statement's results."""
    parts = [h.query for h in held]
    if statement is not None:
        parts.append(statement)
    results = await simple_query(driver, b"; ".join(parts))
    at = 0
    for h in held:
        if h.then is not None:
            h.then(results[at : at + h.results])
        at += h.results
    return results[at:]


def bind(driver: psycopg.AsyncConnection[Any], sql: str, values: Sequence[Any]) -> bytes:
    """``sql`` (psycopg's ``%s`` placeholders) with ``values`` bound as literals."""
    mogrifier = psycopg.AsyncClientCursor(driver)  # kept nowhere: it holds the connection
    return mogrifier.mogrify(sql, values).encode(driver.info.encoding)


def rows(driver: psycopg.AsyncConnection[Any], result: PGresult) -> list[tuple[Any, ...]]:
    """A result's rows, loaded as psycopg loads a cursor's."""
    if result.status != ExecStatus.TUPLES_OK:
        return []
    loader = Transformer(driver)
    loader.set_pgresult(result)
    loaded: list[tuple[Any, ...]] = loader.load_rows(0, result.ntuples, tuple)
    return loaded


def type_codes(result: PGresult) -> list[int]:
    """The types of a result's columns (their oids)."""
    return [result.ftype(i) for i in range(result.nfields)]
