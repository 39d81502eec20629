"""Scale-out on PostgreSQL: one API process (``serve --no-worker``) and 1, 2 and 3 worker
processes (``loopwright worker``), beside SQLite with one process, in one run.

The processes do not relay to each other (``LOOPWRIGHT_RELAY=false``), as on separate
machines: every event a reader on the API process sees (the bench's SSE streams) came through
PostgreSQL ``LISTEN/NOTIFY``, and the readers' safety poll is 60 s, so a lost notification
would show as a stalled turn. A turn is ``bench.turn_overhead``'s (2 model calls + 1 tool call
against a 0 ms fake, streamed over SSE, in conversations of 10 turns). Measured:

  * overhead per turn at c=1 (turn time minus the client driving the fake directly), p50;
  * turns/s at c=50 (one store, store concurrency raised), and the CPU of all the server's
    processes per turn;
  * on PostgreSQL, per turn: transactions committed (``pg_stat_database.xact_commit``, the
    app database and DBOS's system database) and rows written (inserted, updated, deleted)
    -- a statement is at least one round trip, a transaction at least two more;
  * one store against ten (``--stores``): turns/s at c=50 with the most workers asked for,
    at the default ``store_concurrency`` (5): all conversations in one store (5 runs at a
    time), then spread over 10 stores (50 at a time), then one store again.

Figures drift by tens of percent on a shared machine: compare the ratios printed, which are
measured in the same run.

    .venv/bin/python -m bench.scaling [--turns 30] [--seconds 8] [--workers 1 2 3] [--stores]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
import psycopg
from cryptography.fernet import Fernet

from bench.harness import OPERATOR_KEY, free_port, percentile, process, wait_ready
from bench.turn_overhead import (
    SERVER_ENV,
    TURNS_PER_SESSION,
    Bench,
    baseline,
    conversations,
    setup,
    warm_up,
)

PG_ADMIN = os.environ.get("LOOPWRIGHT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CONCURRENCY = 50
ENV = {
    **SERVER_ENV,
    "LOOPWRIGHT_OPERATOR_KEY": OPERATOR_KEY,
    "LOOPWRIGHT_CREATE_DEMO": "false",
    "LOOPWRIGHT_LOG_LEVEL": "warning",
    "LOOPWRIGHT_RELAY": "false",  # as on separate machines
    "LOOPWRIGHT_EVENT_POLL_S": "60",  # what the readers see came through notifications
    # PostgreSQL here allows 100 connections, shared with other work: 4 processes at up to
    # 2 x 5 each, plus DBOS's and the notifiers'
    "LOOPWRIGHT_DB_POOL_SIZE": os.environ.get("LOOPWRIGHT_DB_POOL_SIZE", "5"),
}


def cpu_seconds(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    name = f"lw_scaling_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for db in (name, f"{name}_dbos"):
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


class Cluster:
    """On SQLite (``database`` None): ``serve`` alone. On PostgreSQL: ``serve --no-worker``
    and the worker processes added, each its own DBOS executor."""

    def __init__(self, env: dict[str, str], database: str | None, data_dir: str) -> None:
        self.database = database
        self.data_dir = data_dir
        self.env = {**os.environ, **env, "LOOPWRIGHT_SECRET_KEYS": Fernet.generate_key().decode()}
        if database is not None:
            base = PG_ADMIN.rsplit("/", 1)[0]
            self.env["LOOPWRIGHT_DATABASE_URL"] = f"{base}/{database}"
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "loopwright", "serve", "--port", str(port)]
        self.procs = [
            subprocess.Popen(
                [*serve, "--data-dir", data_dir, *(["--no-worker"] if database else [])],
                env={**self.env, "LOOPWRIGHT_EXECUTOR_ID": "api"},
            )
        ]
        wait_ready(f"{self.base_url}/readyz")  # the API process migrated

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    @property
    def workers(self) -> int:
        return len(self.procs) - 1

    def add_worker(self) -> None:
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "loopwright", "worker", "--data-dir", self.data_dir],
                env={**self.env, "LOOPWRIGHT_EXECUTOR_ID": f"worker-{self.workers}"},
            )
        )

    def check(self) -> None:
        """Fail at once if a process died (PostgreSQL out of connections at start, say)."""
        for p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"a server process exited ({p.returncode}): {p.args!r}")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=30)


@contextlib.contextmanager
def cluster(env: dict[str, str], database: str | None, workers: int = 0) -> Iterator[Cluster]:
    with tempfile.TemporaryDirectory() as data_dir:
        on = Cluster(env, database, data_dir)
        try:
            for _ in range(workers):
                on.add_worker()
            yield on
        finally:
            on.stop()


def pg_counters(database: str) -> tuple[int, int]:
    """(transactions committed, rows written) in the app and DBOS databases so far."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sum(xact_commit), sum(tup_inserted + tup_updated + tup_deleted)"
            " FROM pg_stat_database WHERE datname IN (%s, %s)",
            (database, f"{database}_dbos"),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def stats_settled() -> None:
    """The statistics collector publishes a backend's counts within ~0.5 s of its commit."""
    await asyncio.sleep(1.0)


async def c1(c: httpx2.AsyncClient, bench: Bench, turns: int) -> list[float]:
    return [total * 1000 async for _, total in conversations(c, bench, turns)]


SPLIT: list[str] = []
"""Per measurement: each process's CPU per turn (the API process first)."""


async def rate(
    base_url: str, benches: Sequence[Bench], workers: int, seconds: float, pids: list[int]
) -> tuple[float, float]:
    """(turns/s, server CPU ms per turn) of ``workers`` conversations at a time, spread
    round-robin over ``benches`` (stores); each process's share goes to ``SPLIT``."""
    done = 0
    deadline = time.perf_counter() + seconds
    limits = httpx2.Limits(max_connections=workers * 3)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx2.AsyncClient(
                    base_url=base_url,
                    headers={"Authorization": f"Bearer {b.key}"},
                    timeout=120,
                    limits=limits,
                )
            )
            for b in benches
        ]

        async def one(i: int) -> None:
            nonlocal done
            c, b = clients[i % len(benches)], benches[i % len(benches)]
            while time.perf_counter() < deadline:
                async for _ in conversations(c, b, TURNS_PER_SESSION):
                    done += 1
                    if time.perf_counter() >= deadline:
                        break

        each = [cpu_seconds([pid]) for pid in pids]
        cpu_before, started = cpu_seconds(pids), time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(workers)))
        elapsed = time.perf_counter() - started
        shares = [
            (cpu_seconds([pid]) - before) * 1000 / max(done, 1)
            for pid, before in zip(pids, each, strict=True)
        ]
        SPLIT.append(" + ".join(f"{share:.1f}" for share in shares))
        return done / elapsed, (cpu_seconds(pids) - cpu_before) * 1000 / max(done, 1)


@dataclass
class Figures:
    """Per turn; ``overhead_ms`` 0 when not measured."""

    overhead_ms: float
    rate: float
    cpu_ms: float
    xacts: float | None = None
    rows: float | None = None


async def warmed(on: Cluster, warming: Coroutine[Any, Any, None]) -> None:
    """``warming``, within 90 s, failing as soon as a process died."""
    task = asyncio.ensure_future(warming)
    deadline = time.monotonic() + 90
    while not task.done():
        on.check()
        if time.monotonic() > deadline:
            task.cancel()
            raise RuntimeError("warming up took more than 90 s")
        await asyncio.wait([task], timeout=1)
    task.result()


def report(label: str, found: Figures) -> None:
    per_turn = (
        f"; per turn {found.xacts:.1f} transactions, {found.rows:.1f} rows written"
        if found.xacts is not None
        else ""
    )
    c1_part = f"overhead c=1 p50 {found.overhead_ms:.1f} ms; " if found.overhead_ms else ""
    print(
        f"{label}: {c1_part}c={CONCURRENCY} {found.rate:.1f} turns/s,"
        f" CPU {found.cpu_ms:.1f} ms/turn ({SPLIT[-1]}){per_turn}",
        flush=True,
    )


async def measure(
    on: Cluster, model_url: str, base_p50: float, turns: int, seconds: float
) -> Figures:
    """Overhead at c=1 (and, on PostgreSQL, transactions and rows per turn), then turns/s."""
    bench = await setup(on.base_url, model_url)
    headers = {"Authorization": f"Bearer {bench.key}"}
    async with httpx2.AsyncClient(base_url=on.base_url, headers=headers, timeout=60) as c:
        await warmed(on, warm_up(c, bench, conversations_at_once=2 * max(on.workers, 1)))
        if on.database:
            await stats_settled()
            before = pg_counters(on.database)
        totals = await c1(c, bench, turns)
        if on.database:
            await stats_settled()
            after = pg_counters(on.database)
    turns_per_s, cpu_ms = await rate(on.base_url, [bench], CONCURRENCY, seconds, on.pids)
    found = Figures(percentile(totals, 0.5) - base_p50, turns_per_s, cpu_ms)
    if on.database:
        found.xacts = (after[0] - before[0]) / turns
        found.rows = (after[1] - before[1]) / turns
    return found


async def rate_only(on: Cluster, model_url: str, seconds: float) -> Figures:
    """Turns/s at c=50 in a fresh store, after each worker has run some."""
    bench = await setup(on.base_url, model_url)
    headers = {"Authorization": f"Bearer {bench.key}"}
    async with httpx2.AsyncClient(base_url=on.base_url, headers=headers, timeout=60) as c:
        await warmed(on, warm_up(c, bench, conversations_at_once=2 * on.workers))
    turns_per_s, cpu_ms = await rate(on.base_url, [bench], CONCURRENCY, seconds, on.pids)
    return Figures(0.0, turns_per_s, cpu_ms)


async def stores(model_url: str, seconds: float, workers: int) -> None:
    """Turns/s at c=50 in one store and spread over ten, at the default store concurrency
    (5) on one cluster; the main run measures one store at 100."""
    with pg_database() as database:
        env = {**ENV, "LOOPWRIGHT_STORE_CONCURRENCY": "5"}
        with cluster(env, database, workers) as on:
            benches = [await setup(on.base_url, model_url) for _ in range(10)]
            for b in benches:
                headers = {"Authorization": f"Bearer {b.key}"}
                async with httpx2.AsyncClient(
                    base_url=on.base_url, headers=headers, timeout=60
                ) as c:
                    await warmed(on, warm_up(c, b, conversations_at_once=1))
            found = {}
            for count in (1, 10, 1):
                found[count] = await rate(
                    on.base_url, benches[:count], CONCURRENCY, seconds, on.pids
                )
                print(
                    f"PostgreSQL, API + {workers} workers, store_concurrency 5, {count}"
                    f" store(s): {found[count][0]:.1f} turns/s at c={CONCURRENCY},"
                    f" CPU {found[count][1]:.1f} ms/turn",
                    flush=True,
                )
    print(f"ten stores / one store: {found[10][0] / found[1][0]:.2f}x")


async def main(turns: int, seconds: float, workers: list[int], by_store: bool) -> None:
    fake_port = free_port()
    model_url = f"http://127.0.0.1:{fake_port}"
    uvicorn = [sys.executable, "-m", "uvicorn", "bench.fake_openai:app", "--log-level", "warning"]
    with process([*uvicorn, "--port", str(fake_port)], f"{model_url}/health"):
        base = await baseline(f"{model_url}/v1/chat/completions", turns)
        base_p50 = percentile([b * 1000 for b in base], 0.5)
        print(f"baseline turn (client -> fake directly): p50 {base_p50:.1f} ms", flush=True)
        if by_store:
            await stores(model_url, seconds, max(workers))
            return
        with cluster(ENV, None) as on:
            sqlite = await measure(on, model_url, base_p50, turns, seconds)
        report("SQLite, 1 process", sqlite)
        found: dict[int, Figures] = {}
        with pg_database() as database, cluster(ENV, database) as on:
            while on.workers < max(workers):
                on.add_worker()
                if on.workers not in workers:
                    continue
                if not found:
                    found[on.workers] = await measure(on, model_url, base_p50, turns, seconds)
                else:
                    found[on.workers] = await rate_only(on, model_url, seconds)
                report(f"PostgreSQL, API + {on.workers} workers", found[on.workers])
    first = found[workers[0]]
    print(
        f"PostgreSQL/SQLite: overhead c=1 {first.overhead_ms / sqlite.overhead_ms:.2f}x,"
        f" turns/s c={CONCURRENCY} {first.rate / sqlite.rate:.2f}x,"
        f" CPU/turn {first.cpu_ms / sqlite.cpu_ms:.2f}x (with {workers[0]} worker)"
    )
    for count, figures in found.items():
        print(
            f"scaling: {count} workers {figures.rate / first.rate:.2f}x the turns/s of"
            f" {workers[0]} ({figures.rate / sqlite.rate:.2f}x SQLite's)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=30, help="turns at c=1")
    parser.add_argument("--seconds", type=float, default=8, help="each c=50 measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--stores", action="store_true", help="instead: one store against ten, at c=50"
    )
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.seconds, args.workers, args.stores))
