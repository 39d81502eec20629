"""Prepared statements: the run loop's hottest Core statements, straight to the driver.

A turn runs some thirty statements of a dozen kinds (event appends, step records, run
updates, the fencing check, the history read). Through SQLAlchemy each costs about 50 µs of
the loop's time before SQLite sees it (the compiled cache's lookup, the execution context,
parameter processing, the result's metadata) against about 10 µs for SQLite itself. A
``Prepared`` statement is compiled once for SQLite per set of parameter names, with its
parameters' order, their bind processors and Python-side defaults, and its result columns'
processors; ``database.core`` runs it on the transaction's ``sqlite3`` connection and returns
``Fetched`` (the part of a result the callers use). On PostgreSQL it is compiled likewise for
psycopg's dialect (positional parameters; result processors chosen at the first execution,
from the column types the server sends) and run on psycopg's connection under the session's
transaction (``execute_pg``), so the transaction's row-level-security scope and fencing
guard, set when it began, cover it.

What SQLAlchemy would do differently is refused when the statement is compiled, and the
statement then always takes SQLAlchemy's path: expanding (``IN``) parameters given when it
runs (a list built into the statement is rendered once), defaults that are SQL expressions,
parameter sets whose names differ.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import psycopg
from psycopg.pq.abc import PGresult
from sqlalchemy import Executable
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from loopwright.db import json_codec, pg_simple

Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
_DIALECT: Dialect = sqlite.dialect(
    json_serializer=json_codec.dumps, json_deserializer=json_codec.loads
)
# psycopg's dialect as the app's engine has it (``Database``: its JSON codec), but with
# positional parameters (``%s``), so both drivers take the same list of values
_PG_DIALECT: Dialect = postgresql.psycopg.dialect(  # type: ignore[no-untyped-call]  # untyped
    paramstyle="format", json_serializer=json_codec.dumps, json_deserializer=json_codec.loads
)
_MISSING = object()


class _Unsupported(Exception):
    pass


class Fetched:
    """The rows a prepared statement returned (all fetched), and how many rows it changed."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise ValueError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise ValueError(f"expected at most one row, got {len(self._rows)}")
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]


class _Compiled(NamedTuple):
    sql: str
    names: tuple[str, ...]
    fixed: tuple[Any, ...]  # per parameter: a value of its own, or a default, or _MISSING
    defaults: tuple[Callable[[], Any] | None, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    row: Callable[[Sequence[Any]], Any] | None  # builds a row from the driver's tuple


class Prepared:
    """A Core statement built once (a module constant), for ``database.core``."""

    __slots__ = ("_compiled", "_compiled_pg", "locks", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self.locks = getattr(statement, "_for_update_arg", None) is not None
        """Whether it locks rows (``FOR UPDATE``): it must run in the unit's transaction."""
        self._compiled: dict[tuple[str, ...], _Compiled | None] = {}
        self._compiled_pg: dict[tuple[str, ...], _Compiled | None] = {}

    def compiled(self, keys: tuple[str, ...], *, pg: bool = False) -> _Compiled | None:
        """The SQLite (or, ``pg``, PostgreSQL) form for parameters named ``keys``; None when
        SQLAlchemy must run it."""
        cache = self._compiled_pg if pg else self._compiled
        try:
            return cache[keys]
        except KeyError:
            pass
        try:
            found: _Compiled | None = _compile(
                self.statement, keys, _PG_DIALECT if pg else _DIALECT
            )
        except _Unsupported:
            found = None
        cache[keys] = found
        return found

    def sql_of(self, params: Params, *, pg: bool = False) -> str:
        """The SQL run for ``params`` (for an error's message)."""
        first = params if params is None or isinstance(params, Mapping) else params[0]
        compiled = self.compiled(tuple(first or {}), pg=pg)
        return compiled.sql if compiled is not None else str(self.statement)


def prepare(statement: Executable) -> Prepared:
    return Prepared(statement)


def _compile(statement: Executable, keys: tuple[str, ...], dialect: Dialect) -> _Compiled:
    element: Any = statement
    compiled = element.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    sql = compiled.string
    names = tuple(compiled.positiontup or ())
    processors: dict[str, Any] = dict(compiled._bind_processors)
    expanded: dict[str, Any] = {}
    later = compiled.literal_execute_params | compiled.post_compile_params
    if later:
        # expanded when run (``IN``, ``NOT IN``): only a list built into the statement, which
        # is expanded now, once
        if any(bind.key in keys or bind.required or bind.callable for bind in later):
            raise _Unsupported
        state = compiled._process_parameters_for_postcompile(
            compiled.construct_params(_check=False), _populate_self=False
        )
        sql, names = state.statement, tuple(state.positiontup or ())
        processors.update(state.processors)
        expanded = {n: state.parameters[n] for n in names if n not in compiled.binds}
    prefetch: dict[str, Any] = {c.key: c.default for c in compiled.insert_prefetch}
    prefetch.update({c.key: c.onupdate for c in compiled.update_prefetch})
    fixed: list[Any] = []
    defaults: list[Callable[[], Any] | None] = []
    for name in names:
        default = prefetch.get(name)
        if name in expanded:
            fixed.append(expanded[name])
            defaults.append(None)
        elif default is not None:
            if default.is_scalar:
                fixed.append(default.arg)
                defaults.append(None)
            elif default.is_callable:
                fixed.append(_MISSING)
                defaults.append(_no_context(default.arg))
            else:
                raise _Unsupported
        else:
            bind = compiled.binds[name]
            if bind.callable is not None:
                raise _Unsupported
            fixed.append(_MISSING if bind.required else bind.value)
            defaults.append(None)
    row = _row_builder(compiled, dialect) if compiled._result_columns else None
    return _Compiled(
        sql, names, tuple(fixed), tuple(defaults), tuple(processors.get(n) for n in names), row
    )


def _no_context(arg: Any) -> Callable[[], Any]:
    """SQLAlchemy wraps a column's callable default to take the execution context; ours use
    none of it."""
    return lambda: arg(None)


def _row_builder(compiled: SQLCompiler, dialect: Dialect) -> Callable[[Sequence[Any]], Any]:
    row_type = _row_type(compiled)
    if dialect is _PG_DIALECT:
        return _TypedRows(row_type, compiled)
    columns = compiled._result_columns
    return _builder(row_type, [c.type._cached_result_processor(dialect, None) for c in columns])


def _row_type(compiled: SQLCompiler) -> Any:
    try:
        return namedtuple("Row", [c.keyname for c in compiled._result_columns])
    except ValueError:  # a name no attribute can have, or twice
        raise _Unsupported from None


def _builder(row_type: Any, processors: list[Any]) -> Callable[[Sequence[Any]], Any]:
    if not any(processors):
        make: Callable[[Sequence[Any]], Any] = row_type._make
        return make
    pairs = list(enumerate(processors))

    def build(values: Sequence[Any]) -> Any:
        return row_type._make(
            [values[i] if process is None else process(values[i]) for i, process in pairs]
        )

    return build


class _TypedRows:
    """Rows of a PostgreSQL statement: psycopg's dialect chooses some result processors by
    the type the server sends (a numeric's), so they are chosen at the first execution, from
    its description, as SQLAlchemy does per execution."""

    def __init__(self, row_type: Any, compiled: SQLCompiler) -> None:
        self._row_type = row_type
        self._types = [c.type for c in compiled._result_columns]
        self._build: Callable[[Sequence[Any]], Any] | None = None

    def typed(self, type_codes: Sequence[int]) -> Callable[[Sequence[Any]], Any]:
        if self._build is None:
            processors = [
                kind._cached_result_processor(_PG_DIALECT, code)
                for kind, code in zip(self._types, type_codes, strict=True)
            ]
            self._build = _builder(self._row_type, processors)
        return self._build

    def __call__(self, values: Sequence[Any]) -> Any:
        if self._build is None:
            raise RuntimeError("rows built before their statement's first execution")
        return self._build(values)


def _values(compiled: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    values = []
    for name, fixed, default, process in zip(
        compiled.names, compiled.fixed, compiled.defaults, compiled.processors, strict=True
    ):
        if name in params:
            value = params[name]
        elif default is not None:
            value = default()
        elif fixed is not _MISSING:
            value = fixed
        else:
            raise KeyError(f"no value for the parameter {name!r}")
        values.append(value if process is None else process(value))
    return values


def execute(driver: sqlite3.Connection, prepared: Prepared, params: Params) -> Fetched | None:
    """Run ``prepared`` on ``driver``; None when SQLAlchemy must run it instead."""
    if params is None or isinstance(params, Mapping):
        one: Mapping[str, Any] = params or {}
        compiled = prepared.compiled(tuple(one))
        if compiled is None:
            return None
        cursor = driver.execute(compiled.sql, _values(compiled, one))
    else:
        if not params:
            return Fetched([], 0)
        keys = tuple(params[0])
        compiled = prepared.compiled(keys)
        if compiled is None or compiled.row is not None:
            return None
        if any(tuple(p) != keys for p in params):
            return None
        cursor = driver.executemany(compiled.sql, [_values(compiled, p) for p in params])
    if compiled.row is None:
        return Fetched([], cursor.rowcount)
    build = compiled.row
    rows = [build(values) for values in cursor.fetchall()]
    return Fetched(rows, cursor.rowcount)


async def execute_pg(
    driver: psycopg.AsyncConnection[Any], prepared: Prepared, params: Params
) -> Fetched | None:
    """Run ``prepared`` on psycopg's connection ``driver`` (in its transaction); None when
    SQLAlchemy must run it instead. psycopg prepares a statement on the server once it has
    run a few times on the connection, as through SQLAlchemy."""
    cursor = driver.cursor()
    if params is None or isinstance(params, Mapping):
        one: Mapping[str, Any] = params or {}
        compiled = prepared.compiled(tuple(one), pg=True)
        if compiled is None:
            return None
        await cursor.execute(compiled.sql, _values(compiled, one))
    else:
        if not params:
            return Fetched([], 0)
        keys = tuple(params[0])
        compiled = prepared.compiled(keys, pg=True)
        if compiled is None or compiled.row is not None:
            return None
        if any(tuple(p) != keys for p in params):
            return None
        await cursor.executemany(compiled.sql, [_values(compiled, p) for p in params])
    description = cursor.description
    if compiled.row is None or description is None:
        return Fetched([], cursor.rowcount)
    build = compiled.row
    if isinstance(build, _TypedRows):
        build = build.typed([column.type_code for column in description])
    rows = [build(values) for values in await cursor.fetchall()]
    return Fetched(rows, cursor.rowcount)


async def execute_pg_simple(
    driver: psycopg.AsyncConnection[Any],
    held: Sequence[pg_simple.Held],
    prepared: Prepared,
    params: Mapping[str, Any] | None,
) -> Fetched | None:
    """``held`` (a unit's ``BEGIN``, statements whose results could wait, a read's scope)
    then ``prepared`` in one round trip of the simple query protocol, its values bound as
    literals (``pg_simple``). None, and nothing sent, when SQLAlchemy must run it."""
    one: Mapping[str, Any] = params or {}
    compiled = prepared.compiled(tuple(one), pg=True)
    if compiled is None:
        return None
    statement = pg_simple.bind(driver, compiled.sql, _values(compiled, one))
    result = (await pg_simple.send_held(driver, held, statement))[-1]
    return _fetched(driver, compiled, result)


def hold_pg(
    driver: psycopg.AsyncConnection[Any],
    prepared: Prepared,
    params: Mapping[str, Any],
    then: Callable[[Fetched], None] | None,
    *,
    savepoint_safe: bool = False,
) -> pg_simple.Held | None:
    """``prepared`` bound as literals, to go with the unit's next statement (or its
    ``COMMIT``), ``then`` taking its result; None when SQLAlchemy must run it."""
    compiled = prepared.compiled(tuple(params), pg=True)
    if compiled is None:
        return None
    statement = pg_simple.bind(driver, compiled.sql, _values(compiled, params))
    if then is None:
        return pg_simple.Held(statement, 1, savepoint_safe=savepoint_safe)
    take = then

    def fetched(results: list[PGresult]) -> None:
        take(_fetched(driver, compiled, results[-1]))

    return pg_simple.Held(statement, 1, fetched, savepoint_safe=savepoint_safe)


def _fetched(
    driver: psycopg.AsyncConnection[Any], compiled: _Compiled, result: PGresult
) -> Fetched:
    rowcount = result.command_tuples or 0
    build = compiled.row
    if build is None:
        return Fetched([], rowcount)
    if isinstance(build, _TypedRows):
        build = build.typed(pg_simple.type_codes(result))
    return Fetched([build(values) for values in pg_simple.rows(driver, result)], rowcount)
