"""Per-core efficiency: what one core of server does with a turn, pinned.

The server (and, on SQLite, its database: it is in-process) runs on core 0 (``taskset -c 0``),
the fake model and this load generator on core 1, so the server's figures are one core's. One
turn = the client opens the session's SSE stream (``after`` the last seq it saw), POSTs the
message and reads until ``run.completed``: 2 streamed model calls, 1 tool call, a 20-token
answer, every step persisted. Turns come in conversations of 10 (a new session after that).

For each model latency (``--latency``: 0 ms, and 300 ms to the first token with 10 ms per
token after it) it prints:

  * the fake alone (client -> fake directly, the same growing conversation): turn p50;
  * c=1: overhead p50/p99 (turn time minus the fake-alone p50) and server CPU per turn;
  * c=10/50/200 (one conversation at a time per worker; ``--seconds`` to ramp up, then a
    window of ``--seconds``): turns/s and server CPU per turn in the window;
  * c=200: end-to-end p99 and POST -> first event of the run p50.

``--src`` runs the same figures for each source tree given (``--src /tmp/old/src .../src``),
and ``--database-url`` for each database given (``sqlite``, the embedded default, or an empty
PostgreSQL database), alternating round by round in one window (``--rounds``); it prints each
figure per round and as medians, with each variant's CPU per turn as a ratio of the first
one's: this machine's speed drifts, so compare versions and databases only that way. CPU per
turn is the steadier figure.

    .venv/bin/python -m bench.per_core [--latency 0 300] [--seconds 10] [--turns 60]
        [--concurrency 10 50 200] [--rounds 1] [--src A/src B/src] [--py-spy FILE]
        [--database-url sqlite postgresql://postgres@127.0.0.1:5432/<an empty database>]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from cryptography.fernet import Fernet

from bench.harness import free_port, loopwright_server, percentile, process
from bench.turn_overhead import SERVER_ENV, TURNS_PER_SESSION, Bench, baseline, cpu_seconds, setup

SERVER_CORE, CLIENT_CORE = "0", "1"
TOKEN_MS = 10
ANSWER_TOKENS = 20
TYPES = "chat.message_sent,run.completed,run.failed"
_SECRET_KEY = Fernet.generate_key().decode()


class Conversation:
    """One session; each turn opens the session's stream, POSTs, reads to the run's end."""

    def __init__(self, client: httpx2.AsyncClient, bench: Bench) -> None:
        self.client, self.bench = client, bench
        self.id = ""
        self.after = 0

    async def open(self) -> None:
        r = await self.client.post(
            f"/v1/stores/{self.bench.store}/sessions", json={"agent_id": self.bench.agent_id}
        )
        r.raise_for_status()
        self.id = r.json()["id"]

    async def turn(self) -> tuple[float, float]:
        """(POST -> the run's first event, POST -> run.completed), in seconds."""
        params = {"session_id": self.id, "types": TYPES, "after": str(self.after)}
        url = f"/v1/stores/{self.bench.store}/events"
        started = time.perf_counter()
        first = 0.0
        async with self.client.stream(
            "GET", url, params=params, headers={"Accept": "text/event-stream"}
        ) as stream:
            r = await self.client.post(
                f"/v1/stores/{self.bench.store}/sessions/{self.id}/messages",
                json={"content": "what projects do I have?"},
            )
            r.raise_for_status()
            run_id = r.json()["run"]["id"]
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                self.after = int(event["seq"])
                if event.get("run_id") != run_id:
                    continue
                if not first:
                    first = time.perf_counter()
                if event["type"] in ("run.completed", "run.failed"):
                    assert event["type"] == "run.completed", event
                    return first - started, time.perf_counter() - started
        raise RuntimeError(f"the stream of session {self.id} ended before its run did")


async def turns(client: httpx2.AsyncClient, bench: Bench) -> AsyncIterator[tuple[float, float]]:
    """Turns without end, in conversations of ``TURNS_PER_SESSION``."""
    while True:
        conversation = Conversation(client, bench)
        await conversation.open()
        for _ in range(TURNS_PER_SESSION):
            yield await conversation.turn()


@dataclass
class Load:
    rate: float
    cpu_ms: float
    e2e_p99_ms: float
    first_p50_ms: float
    firsts: list[float] = field(default_factory=list)


async def load(
    base_url: str,
    bench: Bench,
    workers: int,
    seconds: float,
    pid: int,
    profile: str | None = None,
) -> Load:
    """``workers`` conversations at once: ``seconds`` to ramp up (every worker's first turns;
    at c=200 a turn takes seconds), then a window of ``seconds`` in which the turns that end
    are counted and the server's CPU is read at its two ends (and, given ``profile``, py-spy
    samples the server into that file); latencies are those of the turns that started and
    ended inside it. Then every worker finishes its turn, so the next measurement starts on an
    idle server."""
    limits = httpx2.Limits(max_connections=workers * 3, max_keepalive_connections=workers * 3)
    headers = {"Authorization": f"Bearer {bench.key}"}
    async with httpx2.AsyncClient(
        base_url=base_url, headers=headers, timeout=300, limits=limits
    ) as c:
        began = time.perf_counter()
        opens, closes = began + seconds, began + 2 * seconds
        ended = 0
        totals: list[float] = []
        firsts: list[float] = []

        async def worker() -> None:
            nonlocal ended
            async for first, total in turns(c, bench):
                now = time.perf_counter()
                if now > closes:
                    return
                if now >= opens:
                    ended += 1
                    if now - total >= opens:
                        totals.append(total * 1000)
                        firsts.append(first * 1000)

        async def window() -> float:
            await asyncio.sleep(opens - time.perf_counter())
            before = cpu_seconds(pid)
            spy = py_spy(pid, seconds, profile) if profile else None
            await asyncio.sleep(closes - time.perf_counter())
            used = cpu_seconds(pid) - before
            if spy is not None:
                await asyncio.to_thread(spy.wait)
            return used

        measured = asyncio.ensure_future(window())
        await asyncio.gather(measured, *(worker() for _ in range(workers)))
        cpu = measured.result()
        done = max(ended, 1)
        return Load(
            ended / seconds,
            cpu * 1000 / done,
            percentile(totals, 0.99) if totals else math.nan,  # none started and ended in it
            percentile(firsts, 0.5) if firsts else math.nan,
        )


async def c1(base_url: str, bench: Bench, count: int, pid: int) -> tuple[list[float], float]:
    """``count`` turns one at a time: their times (ms) and the server's CPU ms per turn."""
    headers = {"Authorization": f"Bearer {bench.key}"}
    async with httpx2.AsyncClient(base_url=base_url, headers=headers, timeout=60) as c:
        totals: list[float] = []
        cpu_before = cpu_seconds(pid)
        async for _, total in turns(c, bench):
            totals.append(total * 1000)
            if len(totals) == count:
                break
        return totals, (cpu_seconds(pid) - cpu_before) * 1000 / count


Figures = dict[str, float]


async def measure(
    src: str,
    database: str,
    model_url: str,
    base_p50: float,
    args: argparse.Namespace,
    env: dict[str, str],
) -> Figures:
    server_env = {**env, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if database != "sqlite":
        server_env["LOOPWRIGHT_DATABASE_URL"] = database
        server_env["LOOPWRIGHT_SECRET_KEYS"] = _SECRET_KEY  # the same in every round
    found: Figures = {}
    with loopwright_server(
        server_env,
        ["--processes", "1"],
        ready_timeout_s=180,
        prefix=["taskset", "-c", SERVER_CORE],
    ) as server:
        bench = await setup(server.base_url, model_url)
        await load(server.base_url, bench, 4, 2, server.pid)  # warm up
        totals, cpu = await c1(server.base_url, bench, args.turns, server.pid)
        overhead = [t - base_p50 for t in totals]
        found["c1 overhead p50 ms"] = percentile(overhead, 0.5)
        found["c1 overhead p99 ms"] = percentile(overhead, 0.99)
        found["c1 CPU/turn ms"] = cpu
        for workers in args.concurrency:
            profile = args.py_spy if workers == args.concurrency[0] else None
            got = await load(server.base_url, bench, workers, args.seconds, server.pid, profile)
            found[f"c{workers} turns/s"] = got.rate
            found[f"c{workers} CPU/turn ms"] = got.cpu_ms
            if workers == max(args.concurrency):
                found[f"c{workers} e2e p99 ms"] = got.e2e_p99_ms
                found[f"c{workers} first event p50 ms"] = got.first_p50_ms
    return found


def py_spy(pid: int, seconds: float, path: str) -> subprocess.Popen[bytes]:
    """A sampling profile of the server (py-spy, a dev dependency) as collapsed stacks."""
    executable = str(Path(sys.executable).with_name("py-spy"))  # the venv's, not on PATH
    command = [executable, "record", "--pid", str(pid), "--duration", str(int(seconds))]
    command += ["--format", "raw", "--output", path, "--threads", "--gil", "--rate", "250"]
    return subprocess.Popen(["taskset", "-c", CLIENT_CORE, *command], stdout=subprocess.DEVNULL)


def fake_cmd(port: int) -> list[str]:
    return [
        "taskset",
        "-c",
        CLIENT_CORE,
        sys.executable,
        "-m",
        "uvicorn",
        "bench.fake_openai:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


async def main(args: argparse.Namespace) -> None:
    os.sched_setaffinity(0, {int(CLIENT_CORE)})
    env = {**SERVER_ENV, "LOOPWRIGHT_STORE_CONCURRENCY": "1000"}
    env.update(item.split("=", 1) for item in args.server_env)
    srcs = args.src or [os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")]
    variants = [(src, database) for database in args.database_url for src in srcs]
    for latency in args.latency:
        os.environ["FAKE_LATENCY_MS"] = str(latency)
        os.environ["FAKE_TOKEN_MS"] = str(TOKEN_MS if latency else 0)
        os.environ["FAKE_ANSWER_TOKENS"] = str(ANSWER_TOKENS)
        port = free_port()
        model_url = f"http://127.0.0.1:{port}"
        with process(fake_cmd(port), f"{model_url}/health"):
            base = [b * 1000 for b in await baseline(f"{model_url}/v1/chat/completions", 20)]
            base_p50 = percentile(base, 0.5)
            print(f"== model latency {latency} ms: fake alone, turn p50 {base_p50:.1f} ms")
            rows: dict[str, list[Figures]] = {_label(*v, len(variants)): [] for v in variants}
            for round_ in range(args.rounds):
                for src, database in variants:
                    got = await measure(src, database, model_url, base_p50, args, env)
                    label = _label(src, database, len(variants))
                    rows[label].append(got)
                    shown = ", ".join(f"{k} {v:.1f}" for k, v in got.items())
                    print(f"round {round_ + 1} {label}: {shown}", flush=True)
            if args.rounds > 1 or len(variants) > 1:
                first: Figures = {}
                for label, found in rows.items():
                    medians = {k: statistics.median(r[k] for r in found) for k in found[0]}
                    first = first or medians
                    shown = ", ".join(f"{k} {v:.1f}" for k, v in medians.items())
                    ratios = ", ".join(
                        f"{k} x{v / first[k]:.2f}" for k, v in medians.items() if "CPU" in k
                    )
                    print(f"median {label}: {shown}\n  CPU per turn against the first: {ratios}")


def _label(src: str, database: str, variants: int) -> str:
    if variants == 1:
        return src
    return f"{src} [{database.rpartition('/')[2] if database != 'sqlite' else 'sqlite'}]"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=int, nargs="+", default=[0, 300])
    parser.add_argument("--turns", type=int, default=60, help="turns at c=1")
    parser.add_argument("--seconds", type=float, default=10, help="per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--src", nargs="+", help="source trees to alternate (default: this one)")
    parser.add_argument(
        "--server-env",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="settings for the servers (LOOPWRIGHT_WORKER_CONCURRENCY=20)",
    )
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        help="profile the server in the first concurrency's window to FILE",
    )
    parser.add_argument(
        "--database-url",
        nargs="+",
        default=["sqlite"],
        help="sqlite (the embedded default) or an empty PostgreSQL database, each alternated",
    )
    asyncio.run(main(parser.parse_args()))
