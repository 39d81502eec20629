"""The scale-out acceptance test, on PostgreSQL with real processes: two API processes
(``serve --no-worker``) and three workers (``loopwright worker``, each its own executor id)
run 300 conversations sent through both API processes while one worker is killed (SIGKILL)
with runs in flight. Every run completes; no built-in tool's effect repeats; a subscriber on
each API process receives every event of the store once and in order; the store's
concurrency limit holds throughout. It prints how long after the dead worker's heartbeat
expired its runs were running again."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.procs import OPERATOR_KEY, ServerProcess, WorkerProcess
from tests.sse import frames

RUNS = 300
LIMIT = 6  # the store's concurrency limit
# Heartbeats every 0.3 s; a live worker is declared dead only after 8 s without one (a
# shorter expiry fenced live workers out when the machine was loaded, and with none left the
# runs stalled).
EXPIRY_S = 8.0
ENV = {
    "LOOPWRIGHT_SWEEP_S": "0.2",
    "LOOPWRIGHT_HEARTBEAT_S": "0.3",
    "LOOPWRIGHT_HEARTBEAT_EXPIRY_S": str(EXPIRY_S),
    "LOOPWRIGHT_STORE_CONCURRENCY": str(LIMIT),
    "LOOPWRIGHT_EVENT_POLL_S": "0.5",
    "LOOPWRIGHT_TOOL_CALLS_PER_MIN": "100000",
    # Five processes share the cluster with the rest of the suite: few connections each, or a
    # run fails on "too many clients" and the test on the database.
    "LOOPWRIGHT_DB_POOL_SIZE": "3",
}
TERMINAL = {"run.completed", "run.failed", "run.cancelled"}


class Subscriber:
    """Every event of the store, as one API process streams it."""

    def __init__(self, base_url: str, store: str, key: str) -> None:
        self.url = f"{base_url}/v1/stores/{store}/events"
        self.key = key
        self.seqs: list[int] = []
        self.ended: set[str] = set()
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def follow(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "text/event-stream"}
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http,
            http.stream("GET", self.url, params={"after": 0}, headers=headers) as response,
        ):
            async for frame in frames(response):
                if frame.id is None:  # a live-only text delta: not in the log
                    continue
                self.seqs.append(int(frame.id))
                if frame.event in TERMINAL:
                    self.ended.add(frame.data["run_id"])
                    self.changed.set()

    async def until_ended(self, count: int) -> None:
        assert self.task is not None
        while len(self.ended) < count:
            self.changed.clear()
            changed = asyncio.ensure_future(self.changed.wait())
            await asyncio.wait({changed, self.task}, return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            if self.task.done():
                self.task.result()  # its error, if it failed
                raise AssertionError("the event stream ended")


async def pg(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url.replace("+psycopg", "")) as conn:
        return list(await (await conn.execute(query, args)).fetchall())


async def test_300_conversations_on_two_api_processes_and_three_workers_one_killed(
    tmp_path: Path, own_pg_url: str
) -> None:
    env = {"LOOPWRIGHT_DATABASE_URL": own_pg_url, **ENV}
    apis = [ServerProcess(tmp_path, env, tmp_path / f"api{i}.log") for i in (1, 2)]
    for api in apis:
        api.extra_args = ["--no-worker"]
    await apis[0].start()  # migrates the database first
    pool = [
        WorkerProcess(tmp_path, own_pg_url, f"w{i}", ENV, tmp_path / f"w{i}.log") for i in (1, 2, 3)
    ]
    try:
        await asyncio.gather(apis[1].start(), *(worker.start() for worker in pool))
        await _scenario(apis, pool, own_pg_url)
    except BaseException:
        for process in [*apis, *pool]:
            print(process.report())  # shown with the failure
        raise
    finally:
        for process in [*pool, *apis]:
            await process.kill()


async def _scenario(apis: list[ServerProcess], pool: list[WorkerProcess], own_pg_url: str) -> None:
    store = "scale"
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=apis[0].base_url, headers=operator, timeout=30) as op:
        assert (await op.post("/v1/stores", json={"id": store})).status_code == 201
        r = await op.patch(
            f"/v1/stores/{store}/settings", json={"runs_per_min": None, "tokens_per_min": None}
        )
        assert r.status_code == 200, r.text
        key = (await op.post(f"/v1/stores/{store}/keys", json={"role": "admin"})).json()["key"]
        agent = (
            await op.post(
                f"/v1/stores/{store}/agents",
                json={"name": "clerk", "model": "offline:default", "tools": ["create_task"]},
            )
        ).json()
    subscribers = [Subscriber(api.base_url, store, key) for api in apis]
    for subscriber in subscribers:
        subscriber.task = asyncio.create_task(subscriber.follow())

    clients = [
        httpx.AsyncClient(
            base_url=f"{api.base_url}/v1/stores/{store}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        for api in apis
    ]
    sending = asyncio.Semaphore(16)

    async def converse(i: int) -> None:
        http = clients[i % 2]  # through both API processes
        async with sending:
            created = await http.post("/sessions", json={"agent_id": agent["id"]})
            assert created.status_code == 201, created.text
            chat = created.json()
            r = await http.post(
                f"/sessions/{chat['id']}/messages",
                json={"content": f"create a task called job {i}"},
            )
            assert r.status_code == 202, r.text

    started = time.monotonic()
    sent = asyncio.gather(*(converse(i) for i in range(RUNS)))
    await subscribers[0].until_ended(RUNS // 4)
    # kill the worker with the most runs in flight
    dbos = own_pg_url + "_dbos"
    in_flight = await pg(
        dbos,
        "SELECT executor_id, count(*) FROM dbos.workflow_status WHERE status = 'PENDING'"
        " GROUP BY executor_id ORDER BY count(*) DESC",
    )
    victim = next(w for w in pool if w.executor_id == in_flight[0][0])
    await victim.kill()
    [(last_beat,)] = await pg(
        own_pg_url, "SELECT heartbeat_at FROM workers WHERE executor_id = %s", victim.executor_id
    )
    orphans = [
        row[0]
        for row in await pg(
            dbos,
            "SELECT workflow_uuid FROM dbos.workflow_status"
            " WHERE status = 'PENDING' AND executor_id = %s",
            victim.executor_id,
        )
    ]
    await sent
    async with asyncio.timeout(120):
        for subscriber in subscribers:
            await subscriber.until_ended(RUNS)
    elapsed = time.monotonic() - started

    # every run completed
    statuses = await pg(
        own_pg_url, "SELECT status, count(*) FROM runs WHERE store_id = %s GROUP BY status", store
    )
    failed = await pg(
        own_pg_url,
        "SELECT id, stop_reason, error FROM runs WHERE store_id = %s AND status <> 'completed'",
        store,
    )
    assert dict(statuses) == {"completed": RUNS}, failed
    # each conversation's task was created exactly once, by one recorded call
    titles = Counter(
        row[0] for row in await pg(own_pg_url, "SELECT title FROM tasks WHERE store_id = %s", store)
    )
    assert len(titles) == RUNS and set(titles.values()) == {1}, titles.most_common(3)
    [(calls,)] = await pg(own_pg_url, "SELECT count(*) FROM tool_calls WHERE store_id = %s", store)
    assert calls == RUNS
    # every subscriber received every event once and in order
    log = await pg(
        own_pg_url,
        "SELECT seq, type, run_id FROM events WHERE store_id = %s ORDER BY seq",
        store,
    )
    wanted = [row[0] for row in log]
    for subscriber in subscribers:
        assert subscriber.seqs[: len(wanted)] == wanted
    done = Counter(row[1] for row in log if row[1] == "tool.completed")
    assert done["tool.completed"] == RUNS
    # the store's limit held: runs between their start and their end, in the log's order
    running = most = 0
    for _, kind, _ in log:
        running += kind == "run.started"
        running -= kind in TERMINAL
        most = max(most, running)
    assert most <= LIMIT
    # the killed worker's runs ran again elsewhere: when, after its heartbeat expired
    assert orphans, "the killed worker had no run in flight"
    restarted = await pg(
        dbos,
        "SELECT executor_id, started_at_epoch_ms FROM dbos.workflow_status"
        " WHERE workflow_uuid = ANY(%s)",
        orphans,
    )
    assert all(executor != victim.executor_id for executor, _ in restarted)
    expired_ms = last_beat.timestamp() * 1000 + EXPIRY_S * 1000
    lag = sorted((at - expired_ms) / 1000 for _, at in restarted)
    print(
        f"\n{RUNS} runs in {elapsed:.1f} s on 3 workers (one killed), at most {most} running;"
        f" {len(orphans)} runs of the killed worker running again {lag[0]:.2f}-{lag[-1]:.2f} s"
        " after its heartbeat expired"
    )
    assert lag[-1] < 10

    for subscriber in subscribers:
        assert subscriber.task is not None
        subscriber.task.cancel()
    for client in clients:
        await client.aclose()
