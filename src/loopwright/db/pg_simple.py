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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import generators
from psycopg.adapt import Transformer
from psycopg.pq import Escaping, ExecStatus
from psycopg.pq.abc import PGresult
from psycopg.types.json import Json, Jsonb
from pydantic_core import to_json


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
    ``begins``, whether this is the unit's ``BEGIN`` (which alone need not be sent at all);
    ``savepoint_safe``, whether it may go past a savepoint's start or end: its error, if any,
    fails the unit whatever handler sees it (an event append fails only if its store is gone;
    a savepoint's own statements); ``savepoint``, the name of the savepoint it begins."""

    query: bytes
    results: int
    then: Callable[[list[PGresult]], None] | None = None
    begins: bool = False
    savepoint_safe: bool = False
    savepoint: str | None = None


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
    """``sql`` (psycopg's ``%s`` placeholders) with ``values`` bound as literals: the types the
    hot statements bind here (libpq quotes the strings), anything else by psycopg's
    ``ClientCursor.mogrify``, which costs several times more (its adapters, a cursor)."""
    parts = _parts(sql)
    if parts is not None and len(parts) == len(values) + 1 and driver.info.encoding == "utf-8":
        escape = Escaping(driver.pgconn).escape_literal
        out = [parts[0]]
        for value, part in zip(values, parts[1:], strict=True):
            literal = _literal(value, escape)
            if literal is None:
                break
            out.append(literal)
            out.append(part)
        else:
            return b"".join(out)
    mogrifier = psycopg.AsyncClientCursor(driver)  # kept nowhere: it holds the connection
    return mogrifier.mogrify(sql, values).encode(driver.info.encoding)


_PARTS: dict[str, list[bytes] | None] = {}


def _parts(sql: str) -> list[bytes] | None:
    """``sql`` cut at its placeholders (None when it has an escaped ``%`` or named ones)."""
    try:
        return _PARTS[sql]
    except KeyError:
        pass
    found = None if "%%" in sql or "%(" in sql else [p.encode() for p in sql.split("%s")]
    if len(_PARTS) < 4096:  # the prepared statements' texts: a few hundred
        _PARTS[sql] = found
    return found


def _literal(value: Any, escape: Callable[[bytes], bytes]) -> bytes | None:
    """``value`` as psycopg would quote it client-side; None for a type left to psycopg."""
    kind = type(value)
    if value is None:
        return b"NULL"
    if kind is str:
        if "\x00" in value:
            return None  # libpq would cut it there: psycopg refuses it (a DataError)
        return escape(value.encode())
    if kind is int:
        return b" %d" % value if value < 0 else b"%d" % value  # no ``--`` comment
    if kind is bool:
        return b"true" if value else b"false"
    if kind is datetime:
        moment: datetime = value
        cast = b"'::timestamptz" if moment.tzinfo is not None else b"'::timestamp"
        return b"'" + moment.isoformat().encode() + cast
    if kind is Json or kind is Jsonb:
        text = to_json(value.obj, inf_nan_mode="constants") if value.dumps is None else None
        if text is None:
            return None
        return escape(text) + (b"::json" if kind is Json else b"::jsonb")
    if kind is float and math.isfinite(value):
        return b" " + repr(value).encode()
    return None


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
