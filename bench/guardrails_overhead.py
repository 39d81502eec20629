"""The cost of the guardrails per turn: the same turns (2 model calls + 1 tool call, as in
``bench.turn_overhead``) in a store with every limit on (generous enough never to refuse:
runs and tokens per minute, store and agent daily budgets, the tool's calls per minute) and
in a store with them off (rates and budgets null), alternating in one window.

  * server CPU ms per turn at concurrency 10 (``serve --processes 1``), ``--rounds`` rounds
    of on/off, each ``--seconds`` long: the median of each, and their ratio;
  * SQL statements per turn on the application database, counted in an in-process server
    (a SQLAlchemy ``before_cursor_execute`` listener), on vs off.

    .venv/bin/python -m bench.guardrails_overhead [--rounds 3] [--seconds 8] [--turns 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.harness import OPERATOR_KEY, free_port, loopwright_server, process
from bench.turn_overhead import SERVER_ENV, Bench, conversations, setup, throughput, warm_up

ON: dict[str, Any] = {
    "runs_per_min": 1_000_000,
    "tokens_per_min": 1_000_000_000,
    "daily_token_budget": 1_000_000_000_000,
    "tool_calls_per_min": 1_000_000,
}
OFF: dict[str, Any] = {
    "runs_per_min": None,
    "tokens_per_min": None,
    "daily_token_budget": None,
}


async def configure(base_url: str, bench: Bench, limits: dict[str, Any]) -> None:
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx2.AsyncClient(base_url=base_url, headers=operator) as c:
        body = dict(limits)
        if limits is ON:
            body["agent_daily_token_budgets"] = {bench.agent_id: 1_000_000_000_000}
        r = await c.patch(f"/v1/stores/{bench.store}/settings", json=body)
        r.raise_for_status()


async def async_setup(base_url: str, model_url: str) -> Bench:
    """``turn_overhead.setup`` without its blocking calls (the in-process server shares the
    loop)."""
    store = f"bench-{uuid.uuid4().hex[:8]}"
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx2.AsyncClient(base_url=base_url, headers=operator) as c:
        (await c.post("/v1/stores", json={"id": store})).raise_for_status()
        r = await c.post(f"/v1/stores/{store}/keys", json={"role": "admin"})
        r.raise_for_status()
        key = str(r.json()["key"])
        provider = {"name": "fake", "kind": "openai", "base_url": f"{model_url}/v1"}
        r = await c.post(f"/v1/stores/{store}/providers", json={**provider, "api_key": "k"})
        r.raise_for_status()
        agent = {"name": "bench", "model": "fake:bench", "tools": ["list_projects"]}
        r = await c.post(f"/v1/stores/{store}/agents", json=agent)
        r.raise_for_status()
        return Bench(store, key, r.json()["id"])


async def stores(base_url: str, model_url: str, *, blocking: bool) -> dict[str, Bench]:
    found = {}
    for name, limits in (("on", ON), ("off", OFF)):
        bench = await (setup if blocking else async_setup)(base_url, model_url)
        await configure(base_url, bench, limits)
        found[name] = bench
    return found


async def cpu_rounds(model_url: str, rounds: int, seconds: float) -> None:
    with loopwright_server(SERVER_ENV, ["--processes", "1"]) as server:
        benches = await stores(server.base_url, model_url, blocking=True)
        for bench in benches.values():
            async with httpx2.AsyncClient(
                base_url=server.base_url,
                headers={"Authorization": f"Bearer {bench.key}"},
                timeout=60,
            ) as c:
                await warm_up(c, bench, conversations_at_once=2)
        cpu: dict[str, list[float]] = {"on": [], "off": []}
        rate: dict[str, list[float]] = {"on": [], "off": []}
        for index in range(rounds):
            order = ("on", "off") if index % 2 == 0 else ("off", "on")
            for name in order:
                turns_s, cpu_ms = await throughput(
                    server.base_url, benches[name], 10, seconds, server.pid
                )
                cpu[name].append(cpu_ms)
                rate[name].append(turns_s)
                print(
                    f"round {index + 1} limits {name}: {turns_s:.1f} turns/s, {cpu_ms:.1f} ms CPU/turn"
                )
        on, off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
        print(
            f"server CPU per turn at c=10 (median of {rounds}): limits on {on:.1f} ms, "
            f"off {off:.1f} ms, on/off {on / off:.2f}x; turns/s on "
            f"{statistics.median(rate['on']):.1f}, off {statistics.median(rate['off']):.1f}"
        )


class StatementCounter:
    """Statements on the application database (not DBOS's system database)."""

    def __init__(self, app_db: str) -> None:
        self.app_db = app_db
        self.count = 0

    def __call__(self, conn: Any, *args: Any) -> None:
        if str(conn.engine.url.database or "").endswith(self.app_db):
            self.count += 1


async def statements(model_url: str, turns: int) -> None:
    from loopwright.server.app import create_app
    from loopwright.settings import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            operator_key=OPERATOR_KEY,
            egress_allow="127.0.0.1/32",
            store_concurrency=100,
            tool_calls_per_min=1_000_000,
            create_demo=False,
        )
        app = create_app(settings)
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)  # readiness poll of uvicorn's own flag
        base_url = f"http://127.0.0.1:{port}"
        counter = StatementCounter("loopwright.db")
        event.listen(Engine, "before_cursor_execute", counter)
        try:
            benches = await stores(base_url, model_url, blocking=False)
            counts: dict[str, list[float]] = {"on": [], "off": []}
            for index in range(4):
                name = ("on", "off")[index % 2]
                bench = benches[name]
                async with httpx2.AsyncClient(
                    base_url=base_url, headers={"Authorization": f"Bearer {bench.key}"}, timeout=60
                ) as c:
                    before = counter.count
                    done = 0
                    async for _ in conversations(c, bench, turns):
                        done += 1
                    counts[name].append((counter.count - before) / done)
            on, off = statistics.mean(counts["on"]), statistics.mean(counts["off"])
            print(
                f"SQL statements per turn on the app database (incl. the client's event stream): "
                f"limits on {on:.1f}, off {off:.1f}, +{on - off:.1f}"
            )
        finally:
            event.remove(Engine, "before_cursor_execute", counter)
            server.should_exit = True
            await task


async def main(rounds: int, seconds: float, turns: int) -> None:
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
        await cpu_rounds(model_url, rounds, seconds)
        await statements(model_url, turns)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.seconds, args.turns))
