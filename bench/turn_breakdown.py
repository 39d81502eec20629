"""What one turn costs, counted: the server runs in this process on a thread of its own (its own
event loop), the client on the main thread, and ``--turns`` turns by ``--concurrency``
conversations at once (default 1; the workload of ``bench.per_core``: a stream opened per turn,
2 model calls, 1 tool call, 20 answer tokens) are counted after a warm-up:

  * SQL statements, ``BEGIN``s and commits per turn, on the app database and on DBOS's
    system database, as the driver runs them (on SQLite its trace callback; on PostgreSQL
    psycopg's cursors and its own transaction commands, where each is a round trip, counted
    as ``round trips``), so the statements ``db.prepared`` runs past SQLAlchemy are seen;
    on PostgreSQL also each kind of transaction, by the code that opened it;
  * garbage collections per turn by generation, and their time (the whole process, the
    client's allocations included);
  * tasks the server's loop starts per turn, by coroutine, with the async generators it has to
    close in a task of their own because they were dropped unclosed;
  * from a cProfile of the server's loop thread (DBOS's own threads are not in it): Python
    function calls per turn, JSON encodings and decodings, pydantic validations and dumps,
    and where the loop's time goes by package (own time, so the shares add up to 100%).

    .venv/bin/python -m bench.turn_breakdown [--turns 40] [--concurrency 1] [--top 25]
        [--database-url postgresql://postgres@127.0.0.1:5432/<an empty database>]

cProfile slows every call down, so read the shares and counts, not the times.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import psycopg._connection_base
import uvicorn

from bench.guardrails_overhead import OFF, async_setup, configure
from bench.harness import OPERATOR_KEY, free_port, process
from bench.per_core import ANSWER_TOKENS, fake_cmd, turns

PACKAGES = (
    "sqlalchemy",
    "pydantic_ai",
    "pydantic_core",
    "pydantic",
    "openai",
    "httpx2",
    "httpcore2",
    "httpx",
    "httpcore",
    "starlette",
    "fastapi",
    "uvicorn",
    "sse_starlette",
    "dbos",
    "opentelemetry",
    "prometheus_client",
    "anyio",
    "h11",
    "loopwright",
)


class Collections:
    """Garbage collections in this process (the server's and the client's allocations both
    count towards them): how many per generation, and their time."""

    def __init__(self) -> None:
        self.count: Counter[int] = Counter()
        self.seconds: Counter[int] = Counter()
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._started


class Tasks:
    """Tasks the server's loop starts, by the coroutine they run (a task is a loop callback
    per step, and its creation and completion cost more than an ``await``)."""

    def __init__(self) -> None:
        self.started: Counter[str] = Counter()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
            name = getattr(coro, "__qualname__", type(coro).__name__)
            if name != "async_generator_athrow":  # counted by the finalizer, by name
                self.started[name] += 1
            return asyncio.Task(coro, loop=loop, **kwargs)

        loop.set_task_factory(factory)
        hooks = sys.get_asyncgen_hooks()  # this thread's: install runs on the loop's thread
        finalize = hooks.finalizer
        assert finalize is not None

        def finalizer(agen: Any) -> None:  # an async generator dropped unclosed: a task
            self.started[f"aclose of {agen.__qualname__} (dropped unclosed)"] += 1
            finalize(agen)

        sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=finalizer)


class Counts:
    """Statements, begins and commits, per database (app or DBOS's)."""

    def __init__(self) -> None:
        self.found: Counter[str] = Counter()
        self.texts: Counter[str] = Counter()
        self.tracing = False
        self.transactions: Counter[str] = Counter()
        """On PostgreSQL: each kind of app transaction (what opened it, its statements)."""
        self._open: dict[int, list[str]] = {}

    def trace_sqlite(self) -> None:
        """On SQLite: count what the driver runs, on every connection opened from now on (the
        server's pools, its own read and write connections, DBOS's), counted while
        ``tracing``."""
        connect = sqlite3.connect

        def traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection: sqlite3.Connection = connect(*args, **kwargs)
            name = str(args[0] if args else kwargs.get("database", ""))
            connection.set_trace_callback(self._tracer("dbos" if "dbos" in name else "app"))
            return connection

        sqlite3.connect = traced_connect  # type: ignore[assignment]
        # SQLAlchemy's dialect connects through the dbapi2 module's own name (DBOS's engine,
        # the app's read engine)
        sqlite3.dbapi2.connect = traced_connect  # type: ignore[assignment]

    def _tracer(self, which: str) -> Any:
        def traced(text: str) -> None:
            if not self.tracing:
                return
            words = text.split()
            verb = words[0].upper() if words else ""
            if verb == "BEGIN":
                self.found[f"{which} begins"] += 1
            elif verb in ("COMMIT", "END"):
                self.found[f"{which} commits"] += 1
            elif verb not in ("ROLLBACK", "PRAGMA"):
                self.found[f"{which} statements"] += 1
            shown = _LITERALS.sub("?", " ".join(words))
            self.texts[f"{which}: {shown[:90]}"] += 1

        return traced

    def trace_pg(self) -> None:
        """On PostgreSQL: count what psycopg sends, counted while ``tracing``: statements
        through its cursors (SQLAlchemy's and ``db.prepared``'s alike), the ``BEGIN``,
        ``COMMIT``, ``ROLLBACK`` and savepoint commands it sends itself, and the ``BEGIN`` a
        simple-protocol queries a unit sends (``db.pg_simple``: its ``BEGIN``, its scope and
        its first statement in one): each one a round trip."""
        from loopwright.db import pg_simple

        def which(connection: Any) -> str:
            return "dbos" if "dbos" in str(connection.info.dbname) else "app"

        def counted(text: Any, connection: Any, trip: bool = True) -> None:
            if not self.tracing:
                return
            if isinstance(text, bytes):
                text = text.decode()
            words = str(text).split()
            verb = words[0].upper() if words else ""
            db = which(connection)
            if verb == "BEGIN":
                self.found[f"{db} begins"] += 1
            elif verb in ("COMMIT", "END"):
                self.found[f"{db} commits"] += 1
            elif verb == "ROLLBACK" and len(words) == 1:
                self.found[f"{db} rollbacks"] += 1
            else:
                self.found[f"{db} statements"] += 1
            self.found[f"{db} round trips"] += trip
            self.texts[f"{db}: {' '.join(words)[:90]}"] += 1
            if db == "app":
                self._transaction(id(connection), verb, " ".join(words))

        base = psycopg._connection_base.BaseConnection
        command = base._exec_command

        def exec_command(conn: Any, text: Any, *args: Any, **kwargs: Any) -> Any:
            counted(text, conn)
            return command(conn, text, *args, **kwargs)

        base._exec_command = exec_command  # type: ignore[method-assign]
        for cursor_type in (psycopg.Cursor, psycopg.AsyncCursor):
            for name in ("execute", "executemany"):
                original = getattr(cursor_type, name)

                def traced(
                    cur: Any, query: Any, *args: Any, _run: Any = original, **kw: Any
                ) -> Any:
                    counted(query if isinstance(query, str | bytes) else str(query), cur.connection)
                    return _run(cur, query, *args, **kw)

                setattr(cursor_type, name, traced)
        simple_query = pg_simple.simple_query

        async def simple(driver: Any, query: bytes) -> Any:
            """A unit's ``BEGIN`` (its scope, its first statement) in one round trip."""
            text = query.decode(errors="replace")
            if text.startswith("BEGIN"):
                counted("BEGIN", driver)
                _, _, rest = text.partition("; ")
                if rest.startswith("SELECT set_config('role'"):  # the store's scope
                    _, _, rest = rest.partition("; ")
                if rest:
                    counted(rest, driver, trip=False)
            else:
                counted(text, driver)
            return await simple_query(driver, query)

        pg_simple.simple_query = simple  # type: ignore[assignment]

    def _transaction(self, connection: int, verb: str, text: str) -> None:
        """Gather a transaction's statements, named by the code that opened its unit."""
        if verb == "BEGIN":
            self._open[connection] = [_opener()]
        elif verb in ("COMMIT", "ROLLBACK") and connection in self._open:
            opener, *statements = self._open.pop(connection)
            self.transactions[f"{opener}: {' | '.join(statements)}"] += 1
        elif connection in self._open:
            self._open[connection].append(_LITERALS.sub("?", " ".join(text.split()[:4]))[:40])


_HELPERS = ("/loopwright/db/", "/runtime/fencing.py", "/events/log.py")


def _opener() -> str:
    """The innermost function of ours on the stack outside the database layer (and the
    helpers a unit runs first: the fencing check, the log's reads)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if "/loopwright/" in name and not any(part in name for part in _HELPERS):
            return f"{Path(name).stem}.{frame.f_code.co_qualname}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def bucket(filename: str, name: str) -> str:
    """The package a frame belongs to, from its file (or, for C functions, its name)."""
    for package in PACKAGES:
        if f"/{package}/" in filename or (name.startswith("<method '") and package in name):
            return package
    if "asyncio" in filename or "selectors" in filename:
        return "asyncio"
    if filename == "~":
        if "sqlite3" in name:
            return "sqlite3 (C)"
        if "pydantic_core" in name:
            return "pydantic_core"
        return "builtins (C)"
    if "/json/" in filename:
        return "json"
    return "stdlib/other"


def report(stats: pstats.Stats, done: int, top: int) -> None:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total_calls = sum(cc for (cc, nc, tt, ct, callers) in raw.values())
    total_time = sum(tt for (cc, nc, tt, ct, callers) in raw.values())
    print(f"Python function calls per turn (loop thread): {total_calls / done:,.0f}")
    wanted = {
        "json encodings (json.dumps)": ("dumps", "json/__init__.py"),
        "json decodings (json.loads)": ("loads", "json/__init__.py"),
        "pydantic validations (validate_python)": ("validate_python", "~"),
        "pydantic validations (validate_json)": ("validate_json", "~"),
        "pydantic validations (validate_strings)": ("validate_strings", "~"),
        "pydantic dumps (to_python)": ("to_python", "~"),
        "pydantic dumps (to_json)": ("to_json", "~"),
        "pydantic_core.to_json": ("to_json", "~"),
    }
    for label, (name, file) in wanted.items():
        calls = sum(
            cc
            for (filename, _line, func), (cc, *_rest) in raw.items()
            if func.endswith(name) or f"'{name}'" in func
            if file in filename
        )
        print(f"{label} per turn: {calls / done:.1f}")
    by_package: Counter[str] = Counter()
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in raw.items():
        by_package[bucket(filename, func)] += tt
    print("own time of the loop thread by package:")
    for package, seconds in by_package.most_common():
        print(f"  {package:>20}: {100 * seconds / total_time:5.1f} %")
    print(f"top {top} functions by own time:")
    stats.sort_stats("tottime").print_stats(top)


async def run_turns(c: httpx2.AsyncClient, bench: Any, count: int, concurrency: int) -> int:
    """``count`` turns (or a few more) by ``concurrency`` conversations at once; how many."""
    done = 0

    async def worker() -> None:
        nonlocal done
        async for _ in turns(c, bench):
            done += 1
            if done >= count:
                return

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


def serve(app_factory: Any, port: int, ready: threading.Event, box: dict[str, Any]) -> None:
    loop = asyncio.new_event_loop()
    box["loop"] = loop
    asyncio.set_event_loop(loop)
    server = uvicorn.Server(
        uvicorn.Config(app_factory(), host="127.0.0.1", port=port, log_level="warning")
    )
    box["server"] = server

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)  # readiness poll of uvicorn's own flag
        ready.set()
        await task

    loop.run_until_complete(run())


def on_server(box: dict[str, Any], call: Any) -> None:
    """Run ``call`` on the server's loop thread and wait for it (profiling is per thread)."""
    done = threading.Event()

    def run() -> None:
        call()
        done.set()

    box["loop"].call_soon_threadsafe(run)
    done.wait()


async def main(args: argparse.Namespace) -> None:
    from loopwright.server.app import create_app
    from loopwright.settings import Settings

    fake_port = free_port()
    model_url = f"http://127.0.0.1:{fake_port}"
    os.environ["FAKE_ANSWER_TOKENS"] = str(ANSWER_TOKENS)
    with (
        tempfile.TemporaryDirectory() as data_dir,
        process(fake_cmd(fake_port), f"{model_url}/health"),
    ):
        extra: dict[str, Any] = {}
        if args.database_url:
            from cryptography.fernet import Fernet

            extra = {"database_url": args.database_url, "secret_keys": Fernet.generate_key()}
        settings = Settings(
            data_dir=Path(data_dir),
            operator_key=OPERATOR_KEY,
            egress_allow="127.0.0.1/32",
            store_concurrency=100,
            tool_calls_per_min=1_000_000,
            create_demo=False,
            **extra,
        )
        counts = Counts()
        sqlite = not args.database_url
        if sqlite:  # before the server opens its connections
            counts.trace_sqlite()
        else:
            counts.trace_pg()
        port = free_port()
        ready, box = threading.Event(), {}
        thread = threading.Thread(
            target=serve, args=(lambda: create_app(settings), port, ready, box), daemon=True
        )
        thread.start()
        await asyncio.to_thread(ready.wait)
        base_url = f"http://127.0.0.1:{port}"
        bench = await async_setup(base_url, model_url)
        await configure(base_url, bench, OFF)
        headers = {"Authorization": f"Bearer {bench.key}"}
        limits = httpx2.Limits(max_connections=3 * args.concurrency + 3)
        async with httpx2.AsyncClient(
            base_url=base_url, headers=headers, timeout=60, limits=limits
        ) as c:
            warm = 0
            async for _ in turns(c, bench):
                warm += 1
                if warm == 10:
                    break
            counts.tracing = True
            collections = Collections()
            gc.callbacks.append(collections)
            profile = cProfile.Profile()
            tasks = Tasks()
            on_server(box, lambda: tasks.install(box["loop"]))
            on_server(box, profile.enable)
            done = await run_turns(c, bench, args.turns, args.concurrency)
            on_server(box, profile.disable)
            on_server(box, lambda: box["loop"].set_task_factory(None))
            gc.callbacks.remove(collections)
            if args.dump:
                profile.dump_stats(args.dump)
            counts.tracing = False
        box["server"].should_exit = True
        await asyncio.to_thread(thread.join, 30)
    print(
        f"{done} turns at c={args.concurrency}, a stream opened per turn, {ANSWER_TOKENS} answer tokens"
    )
    for key, value in sorted(counts.found.items()):
        print(f"{key} per turn: {value / done:.1f}")
    for generation in sorted(collections.count):
        print(
            f"garbage collections of generation {generation} per turn:"
            f" {collections.count[generation] / done:.2f},"
            f" {collections.seconds[generation] * 1000 / done:.2f} ms (under cProfile)"
        )
    print(f"tasks started per turn on the loop: {sum(tasks.started.values()) / done:.1f}")
    for name, count in tasks.started.most_common(12):
        print(f"  {count / done:5.2f}  {name}")
    print("statements per turn, by text:")
    for text, count in counts.texts.most_common():
        print(f"  {count / done:5.2f}  {text}")
    if counts.transactions:
        print("app transactions per turn, by the code that opened them:")
        for text, count in counts.transactions.most_common():
            print(f"  {count / done:5.2f}  {text}")
    report(pstats.Stats(profile, stream=sys.stdout), done, args.top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="conversations at once (the counts per turn)"
    )
    parser.add_argument("--database-url", help="an empty PostgreSQL database instead of SQLite")
    parser.add_argument("--dump", help="also write the profile here (for pstats or snakeviz)")
    asyncio.run(main(parser.parse_args()))
