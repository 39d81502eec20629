"""Server overhead per agent turn, against a fake OpenAI-compatible server at 0 ms latency.

One turn = 2 model calls + 1 tool call, streamed to the client over SSE. Turns come in
conversations of ``TURNS_PER_SESSION`` turns (a new session, with its own SSE stream, after
that), so the context each model request carries grows as in a chat and is the same on both
sides. In one run:
  * baseline: a client drives the same fake server directly, sending the same growing
    conversation (2 streamed requests per turn): its turn time at c=1, and its turns/s at
    concurrency 10 and 50 (what the client and the fake alone reach on this machine);
  * c=1: POST a message, read SSE until run.completed; overhead = turn time - baseline time
    (both p50s, and the p99 of the turn time minus the baseline p50);
  * time from POST to the first streamed event of the run;
  * turns/s at concurrency 10 and 50 (one conversation at a time per worker, store
    concurrency raised), as a ratio to the baseline's, with the server's CPU time per turn;
  * peak RSS of the server with 200 concurrent runs against the fake at 300 ms latency.
Each server figure is measured with ``serve --processes 1`` and ``--processes 2`` (one
process per core on this 2-core machine); CPU and RSS add up all the server's processes.
The client is httpx2 (httpx's fork that pydantic-ai uses): httpx 0.28's connection pool
re-examines every connection for every request, so at concurrency 50 (100 connections) the
client alone took a core and the baseline fell from ~600 to ~90 turns/s.

    .venv/bin/python -m bench.turn_overhead [--turns 100] [--seconds 15] [--processes 1 2]
        [--database-url postgresql://postgres@127.0.0.1:5432/<an empty database>]
    .venv/bin/python -m bench.turn_overhead --observability 3 [--turns 100] [--seconds 8]

``--observability ROUNDS``: what metrics and tracing cost (see ``observability``).

This machine's speed drifts by tens of percent over an hour: to compare two versions, run
them alternately in one window, the other version's server from a worktree
(``git worktree add /tmp/old REV``, then ``PYTHONPATH=/tmp/old/src`` on this command).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
from cryptography.fernet import Fernet

from bench.harness import create_store, free_port, loopwright_server, percentile, process

TURNS_PER_SESSION = 10
CONCURRENCY = (10, 50)
QUESTION = "what projects do I have?"
TOOLS = [
    {"type": "function", "function": {"name": "list_projects", "parameters": {"type": "object"}}}
]


async def baseline_turn(
    client: httpx2.AsyncClient, url: str, messages: list[dict[str, object]]
) -> float:
    """One turn of a conversation, driving the fake directly; ``messages`` grows as the
    server's context does (user, assistant tool call, tool result, assistant answer)."""
    started = time.perf_counter()
    messages.append({"role": "user", "content": QUESTION})
    for _ in range(2):
        body = {
            "model": "bench",
            "messages": messages,
            "tools": TOOLS,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        text, calls = "", []
        async with client.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                for choice in json.loads(line[6:])["choices"]:
                    text += choice["delta"].get("content") or ""
                    calls += choice["delta"].get("tool_calls") or []
        if calls:
            messages.append({"role": "assistant", "tool_calls": calls})
            messages += [{"role": "tool", "tool_call_id": c["id"], "content": "[]"} for c in calls]
        else:
            messages.append({"role": "assistant", "content": text})
    return time.perf_counter() - started


async def baseline(url: str, turns: int) -> list[float]:
    async with httpx2.AsyncClient(timeout=30) as direct:
        times: list[float] = []
        while len(times) < turns:
            messages: list[dict[str, object]] = []
            for _ in range(TURNS_PER_SESSION):
                times.append(await baseline_turn(direct, url, messages))
        return times[:turns]


async def baseline_throughput(url: str, workers: int, seconds: float) -> float:
    """Turns per second of ``workers`` conversations driving the fake directly: what the
    client and the fake alone reach on this machine, beside the server's figure."""
    limits = httpx2.Limits(max_connections=workers)
    async with httpx2.AsyncClient(timeout=30, limits=limits) as direct:
        deadline = time.perf_counter() + seconds
        done = 0

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                messages: list[dict[str, object]] = []
                for _ in range(TURNS_PER_SESSION):
                    await baseline_turn(direct, url, messages)
                    done += 1
                    if time.perf_counter() >= deadline:
                        break

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        return done / (time.perf_counter() - started)


async def sse_events(
    client: httpx2.AsyncClient, url: str, params: dict[str, str]
) -> AsyncIterator[dict[str, object]]:
    async with client.stream(
        "GET", url, params=params, headers={"Accept": "text/event-stream"}
    ) as r:
        async for line in r.aiter_lines():
            if line.startswith("data:"):
                yield json.loads(line[5:])


RECONNECTS: list[str] = []
"""Sessions whose event stream dropped and was reconnected (a keep-alive connection the server
closed as the client reused it, for one)."""


class Session:
    """One chat session with one long-lived SSE stream, demultiplexed by run id."""

    def __init__(self, client: httpx2.AsyncClient, store: str, agent_id: str) -> None:
        self.client, self.store, self.agent_id = client, store, agent_id
        self.id = ""
        self.first: dict[str, float] = {}
        self.done: dict[str, asyncio.Event] = {}
        self.ready = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        r = await self.client.post(
            f"/v1/stores/{self.store}/sessions", json={"agent_id": self.agent_id}
        )
        self.id = r.json()["id"]
        self._reader = asyncio.create_task(self._read())
        await self._until(self.ready)

    async def _until(self, event: asyncio.Event) -> None:
        """Wait for ``event``; if the stream ends or fails first, say why instead of hanging."""
        assert self._reader is not None
        waiting = asyncio.create_task(event.wait())
        await asyncio.wait([waiting, self._reader], return_when=asyncio.FIRST_COMPLETED)
        if not event.is_set():
            waiting.cancel()
            self._reader.result()
            raise RuntimeError(f"the event stream of session {self.id} ended early")

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()

    async def _read(self) -> None:
        """Follow the session's events; on a dropped connection, reconnect after the last
        seq seen, as an EventSource does (counted in ``RECONNECTS``, printed at the end)."""
        after = 0
        for _ in range(5):
            try:
                async for seq in self._events(after):
                    after = seq
                return
            except httpx2.TransportError:
                RECONNECTS.append(self.id)
        raise RuntimeError(f"the event stream of session {self.id} kept dropping")

    async def _events(self, after: int) -> AsyncIterator[int]:
        """The session's events from ``after`` on, each handled; yields each one's seq."""
        params = {
            "session_id": self.id,
            "types": "session.created,chat.message_sent,run.completed,run.failed",
            "after": str(after),
        }
        async for event in sse_events(self.client, f"/v1/stores/{self.store}/events", params):
            now = time.perf_counter()
            if event["type"] == "session.created":
                self.ready.set()
            else:
                run_id = str(event["run_id"])
                self.first.setdefault(run_id, now)
                if event["type"] in ("run.completed", "run.failed"):
                    assert event["type"] == "run.completed", event
                    self.done.setdefault(run_id, asyncio.Event()).set()
            yield int(str(event["seq"]))

    async def turn(self) -> tuple[float, float]:
        """(POST -> first event of the run, POST -> run.completed), both read from SSE."""
        started = time.perf_counter()
        r = await self.client.post(
            f"/v1/stores/{self.store}/sessions/{self.id}/messages",
            json={"content": "what projects do I have?"},
        )
        r.raise_for_status()
        run_id = r.json()["run"]["id"]
        done = self.done.setdefault(run_id, asyncio.Event())
        await self._until(done)
        ended = time.perf_counter()
        return self.first[run_id] - started, ended - started


@dataclass(frozen=True)
class Bench:
    """The store a measurement runs in (its own, so servers can share a database)."""

    store: str
    key: str
    agent_id: str


async def setup(base_url: str, model_url: str) -> Bench:
    store = f"bench-{uuid.uuid4().hex[:8]}"
    key = create_store(base_url, store)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(base_url=base_url, headers=headers) as c:
        r = await c.post(
            f"/v1/stores/{store}/providers",
            json={"name": "fake", "kind": "openai", "base_url": f"{model_url}/v1", "api_key": "k"},
        )
        r.raise_for_status()
        r = await c.post(
            f"/v1/stores/{store}/agents",
            json={"name": "bench", "model": "fake:bench", "tools": ["list_projects"]},
        )
        r.raise_for_status()
        return Bench(store, key, r.json()["id"])


async def conversations(
    c: httpx2.AsyncClient, bench: Bench, turns: int
) -> AsyncIterator[tuple[float, float]]:
    """``turns`` turns, in conversations of ``TURNS_PER_SESSION`` turns each."""
    done = 0
    while done < turns:
        s = Session(c, bench.store, bench.agent_id)
        await s.open()
        try:
            for _ in range(min(TURNS_PER_SESSION, turns - done)):
                yield await s.turn()
                done += 1
        finally:
            await s.close()


async def warm_up(c: httpx2.AsyncClient, bench: Bench, conversations_at_once: int) -> None:
    """Conversations side by side, so each server process has served requests and runs (a
    process's first run costs ~100 ms more: statement compilation, first-use paths) before
    anything is measured."""

    async def one() -> None:
        async for _ in conversations(c, bench, TURNS_PER_SESSION):
            pass

    await asyncio.gather(*(one() for _ in range(conversations_at_once)))


def server_pids(pid: int) -> list[int]:
    """The server's process and, with ``--processes``, its children."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


def cpu_seconds(pid: int) -> float:
    total = 0
    for one in server_pids(pid):
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def throughput(
    base_url: str, bench: Bench, workers: int, seconds: float, pid: int
) -> tuple[float, float]:
    """(turns per second, server CPU milliseconds per turn)."""
    limits = httpx2.Limits(max_connections=workers * 3)
    headers = {"Authorization": f"Bearer {bench.key}"}
    async with httpx2.AsyncClient(
        base_url=base_url, headers=headers, timeout=120, limits=limits
    ) as c:
        deadline = time.perf_counter() + seconds
        done = 0

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async for _ in conversations(c, bench, TURNS_PER_SESSION):
                    done += 1
                    if time.perf_counter() >= deadline:
                        break

        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
        return done / elapsed, cpu * 1000 / max(done, 1)


# Tool calls per minute raised so the throughput runs measure turns, not the tool rate limit.
SERVER_ENV = {
    "LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32",
    "LOOPWRIGHT_STORE_CONCURRENCY": "100",
    "LOOPWRIGHT_TOOL_CALLS_PER_MIN": "1000000",
}


def rss_peak_kb(pid: int) -> int:
    """Each server process's peak, summed (with ``--processes``: an upper bound)."""
    total = 0
    for one in server_pids(pid):
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total


async def peak_rss(runs: int, processes: int, server_env: dict[str, str]) -> int:
    fake_port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.fake_openai:app",
        "--port",
        str(fake_port),
        "--log-level",
        "warning",
    ]
    env_model = f"http://127.0.0.1:{fake_port}"
    os.environ["FAKE_LATENCY_MS"] = "300"
    try:
        with (
            process(cmd, f"{env_model}/health"),
            loopwright_server(
                {
                    **server_env,
                    "LOOPWRIGHT_STORE_CONCURRENCY": str(runs),
                    "LOOPWRIGHT_EVENT_POLL_S": "5",
                },
                ["--processes", str(processes)],
            ) as server,
        ):
            bench = await setup(server.base_url, env_model)
            pid = server.pid
            async with httpx2.AsyncClient(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {bench.key}"},
                timeout=300,
                limits=httpx2.Limits(max_connections=runs + 10),
            ) as c:
                sessions = [Session(c, bench.store, bench.agent_id) for _ in range(runs)]
                await asyncio.gather(*(s.open() for s in sessions))

                async def one(s: Session) -> None:
                    r = await c.post(
                        f"/v1/stores/{bench.store}/sessions/{s.id}/messages",
                        json={"content": "go", "wait": True, "wait_timeout_s": 300},
                    )
                    assert r.json()["run"]["status"] == "completed", r.text

                await asyncio.gather(*(one(s) for s in sessions))
                for s in sessions:
                    await s.close()
            return rss_peak_kb(pid)
    finally:
        os.environ.pop("FAKE_LATENCY_MS", None)


async def main(turns: int, seconds: float, processes: list[int], database_url: str | None) -> None:
    server_env = dict(SERVER_ENV)
    if database_url:  # every server of this run on it, each measuring in a store of its own
        server_env["LOOPWRIGHT_DATABASE_URL"] = database_url
        server_env["LOOPWRIGHT_SECRET_KEYS"] = Fernet.generate_key().decode()
    fake_port = free_port()
    model_url = f"http://127.0.0.1:{fake_port}"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.fake_openai:app",
        "--port",
        str(fake_port),
        "--log-level",
        "warning",
    ]
    with process(cmd, f"{model_url}/health"):
        base = await baseline(f"{model_url}/v1/chat/completions", turns)
        base_ms = [b * 1000 for b in base]
        print(f"{turns} turns in conversations of {TURNS_PER_SESSION} turns")
        print(
            f"baseline turn (client -> fake directly): p50 {percentile(base_ms, 0.5):.1f} ms, p99 {percentile(base_ms, 0.99):.1f} ms"
        )
        direct = {
            workers: await baseline_throughput(f"{model_url}/v1/chat/completions", workers, seconds)
            for workers in CONCURRENCY
        }
        for workers, rate in direct.items():
            print(
                f"baseline turns/s at concurrency {workers} (client -> fake directly): {rate:.1f}"
            )
        for count in processes:
            print(f"-- server with --processes {count}")
            await measure(model_url, base_ms, direct, turns, seconds, count, server_env)
    for count in processes:
        rss = await peak_rss(200, count, server_env)
        print(
            f"peak server RSS (--processes {count}), 200 concurrent runs at 300 ms model latency: {rss / 1024:.0f} MiB"
        )
    print(f"event streams reconnected: {len(RECONNECTS)}")


async def measure(
    model_url: str,
    base_ms: list[float],
    direct: dict[int, float],
    turns: int,
    seconds: float,
    processes: int,
    server_env: dict[str, str],
) -> None:
    with loopwright_server(server_env, ["--processes", str(processes)]) as server:
        bench = await setup(server.base_url, model_url)
        async with httpx2.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {bench.key}"}, timeout=60
        ) as c:
            await warm_up(c, bench, conversations_at_once=2 * processes)
            firsts: list[float] = []
            totals: list[float] = []
            async for first, total in conversations(c, bench, turns):
                firsts.append(first * 1000)
                totals.append(total * 1000)
        overhead = [t - percentile(base_ms, 0.5) for t in totals]
        print(
            f"server turn c=1: p50 {percentile(totals, 0.5):.1f} ms, p99 {percentile(totals, 0.99):.1f} ms"
        )
        print(
            f"server overhead per turn c=1: p50 {percentile(overhead, 0.5):.1f} ms, p99 {percentile(overhead, 0.99):.1f} ms"
        )
        print(
            f"POST -> first streamed event: p50 {percentile(firsts, 0.5):.1f} ms, p99 {percentile(firsts, 0.99):.1f} ms"
        )
        for workers in CONCURRENCY:
            rate, cpu_ms = await throughput(server.base_url, bench, workers, seconds, server.pid)
            print(
                f"turns/s at concurrency {workers}: {rate:.1f} ({rate / direct[workers]:.2f}x the"
                f" baseline; server CPU {cpu_ms:.1f} ms per turn)"
            )


OBSERVABILITY = {
    "off": {"LOOPWRIGHT_METRICS": "false"},
    "metrics": {"LOOPWRIGHT_METRICS": "true"},
    "metrics+tracing": {"LOOPWRIGHT_METRICS": "true"},  # + the sink's URL
}


async def observability(turns: int, seconds: float, rounds: int) -> None:
    """What metrics and tracing cost per turn: servers with neither, with metrics, and with
    metrics and tracing to a local OTLP sink, alternating round by round in one window; each
    measured at c=1 (overhead over the baseline, server CPU per turn) and at c=10 (CPU per
    turn). Printed per round and as medians."""
    fake_port, sink_port = free_port(), free_port()
    model_url, sink_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{sink_port}"
    uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--port"]
    found: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in OBSERVABILITY}
    with (
        process([*uvicorn, str(fake_port), "bench.fake_openai:app"], f"{model_url}/health"),
        process([*uvicorn, str(sink_port), "bench.otlp_sink:app"], f"{sink_url}/health"),
    ):
        base = await baseline(f"{model_url}/v1/chat/completions", turns)
        base_p50 = percentile([b * 1000 for b in base], 0.5)
        print(f"baseline turn (client -> fake directly): p50 {base_p50:.1f} ms")
        for round_ in range(rounds):
            for mode, extra in OBSERVABILITY.items():
                env = {**SERVER_ENV, **extra}
                if mode.endswith("tracing"):
                    env["LOOPWRIGHT_OTLP_ENDPOINT"] = f"{sink_url}/v1/traces"
                with loopwright_server(env, ["--processes", "1"]) as server:
                    bench = await setup(server.base_url, model_url)
                    headers = {"Authorization": f"Bearer {bench.key}"}
                    async with httpx2.AsyncClient(
                        base_url=server.base_url, headers=headers, timeout=60
                    ) as c:
                        await warm_up(c, bench, conversations_at_once=2)
                        totals: list[float] = []
                        cpu_before = cpu_seconds(server.pid)
                        async for _, total in conversations(c, bench, turns):
                            totals.append(total * 1000)
                        cpu_c1 = (cpu_seconds(server.pid) - cpu_before) * 1000 / turns
                    _, cpu_c10 = await throughput(server.base_url, bench, 10, seconds, server.pid)
                overhead = percentile(totals, 0.5) - base_p50
                found[mode].append((overhead, cpu_c1, cpu_c10))
                print(
                    f"round {round_ + 1} {mode:>16}: overhead c=1 p50 {overhead:.1f} ms,"
                    f" CPU/turn c=1 {cpu_c1:.1f} ms, c=10 {cpu_c10:.1f} ms",
                    flush=True,
                )
        spans = httpx2.get(f"{sink_url}/count").json()["spans"]
    print(f"spans the sink received: {spans}")
    medians = {
        mode: tuple(percentile([r[i] for r in rows], 0.5) for i in range(3))
        for mode, rows in found.items()
    }
    for mode, (overhead, cpu_c1, cpu_c10) in medians.items():
        print(
            f"median {mode:>16}: overhead c=1 {overhead:.1f} ms, CPU/turn c=1 {cpu_c1:.1f} ms,"
            f" c=10 {cpu_c10:.1f} ms"
        )
    off, on, traced = (medians[m] for m in OBSERVABILITY)
    print(
        f"metrics cost: {on[0] - off[0]:+.2f} ms overhead c=1, {on[1] - off[1]:+.2f} ms CPU/turn"
        f" c=1, {on[2] - off[2]:+.2f} ms CPU/turn c=10"
    )
    print(
        f"tracing cost (over metrics): {traced[0] - on[0]:+.2f} ms overhead c=1,"
        f" {traced[1] - on[1]:+.2f} ms CPU/turn c=1, {traced[2] - on[2]:+.2f} ms CPU/turn c=10"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1, 2],
        help="measure the server with each of these --processes (default: 1 and 2)",
    )
    parser.add_argument(
        "--database-url",
        help="run the servers on this (empty) PostgreSQL database instead of SQLite",
    )
    parser.add_argument(
        "--observability",
        type=int,
        metavar="ROUNDS",
        help="instead: metrics and tracing off and on, alternating for ROUNDS rounds",
    )
    args = parser.parse_args()
    if args.observability:
        asyncio.run(observability(args.turns, args.seconds, args.observability))
    else:
        asyncio.run(main(args.turns, args.seconds, args.processes, args.database_url))
