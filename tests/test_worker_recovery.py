"""Dead workers are replaced, on PostgreSQL with real processes: a worker that stops beating
is declared dead, a live worker recovers its runs through DBOS, and a worker that was only
slow (SIGSTOP past its expiry, then SIGCONT) in the middle of a step writes nothing more and
exits, so the recovered run runs once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import psycopg

from loopwright.runtime.fencing import EXIT_FENCED
from tests.llm.fakes import Reply
from tests.procs import OPERATOR_KEY, ServerProcess, WorkerProcess
from tests.scripted import GatedLLM, Hold
from tests.tenant import Tenant

WORKER_ENV = {
    "LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32",
    "LOOPWRIGHT_SWEEP_S": "0.2",
    "LOOPWRIGHT_HEARTBEAT_S": "0.3",
    "LOOPWRIGHT_HEARTBEAT_EXPIRY_S": "3",
}


async def pg(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url.replace("+psycopg", "")) as conn:
        return list(await (await conn.execute(query, args)).fetchall())


async def executor_of(database_url: str, run_id: str) -> str | None:
    """The DBOS executor running the run's workflow now."""
    url = database_url.replace("+psycopg", "") + "_dbos"
    async with await psycopg.AsyncConnection.connect(url) as conn:
        found = await conn.execute(
            "SELECT executor_id FROM dbos.workflow_status WHERE workflow_uuid = %s", (run_id,)
        )
        row = await found.fetchone()
    return None if row is None else str(row[0])


async def test_a_slow_worker_declared_dead_does_not_run_its_recovered_run_again(
    tmp_path: Path, fake: tuple[GatedLLM, str], own_pg_url: str
) -> None:
    llm, model_url = fake
    api = ServerProcess(tmp_path, {"LOOPWRIGHT_DATABASE_URL": own_pg_url, **WORKER_ENV})
    api.extra_args = ["--no-worker"]
    await api.start()  # migrates first
    pool = {
        name: WorkerProcess(tmp_path, own_pg_url, name, WORKER_ENV, tmp_path / f"{name}.log")
        for name in ("w1", "w2")
    }
    await asyncio.gather(*(worker.start() for worker in pool.values()))
    tenant = await Tenant.create(api.base_url, model_url)
    first = Hold(Reply(text=["from the slow worker"]))
    llm.push(first)
    llm.push(Reply(text=["from the live worker"]))
    run_id = await tenant.send("hello")
    await llm.wait_for_requests(1)  # the model call is in flight in one worker
    holder = await executor_of(own_pg_url, run_id)
    assert holder in pool
    slow = pool[holder]
    [live] = [worker for name, worker in pool.items() if name != holder]

    slow.pause()
    [(last_beat,)] = await pg(
        own_pg_url, "SELECT heartbeat_at FROM workers WHERE executor_id = %s", slow.executor_id
    )
    await llm.wait_for_requests(2, timeout_s=30)  # the live worker runs the step again
    done = await tenant.wait(run_id)
    assert done["status"] == "completed"
    assert await executor_of(own_pg_url, run_id) == live.executor_id
    # The operator's view: the paused worker fenced, the other alive.
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=operator) as op:
        workers = (await op.get("/v1/workers")).json()["items"]
    states = {w["executor_id"]: w["state"] for w in workers}
    assert (states[slow.executor_id], states[live.executor_id]) == ("fenced", "alive")
    [(restarted_ms,)] = await pg(
        own_pg_url + "_dbos",
        "SELECT started_at_epoch_ms FROM dbos.workflow_status WHERE workflow_uuid = %s",
        run_id,
    )

    first.gate.set()  # the slow worker's model call returns as it wakes: mid-step
    slow.resume()
    assert await slow.exited() == EXIT_FENCED
    chat = done["session_id"]
    messages = (await tenant.http.get(f"/sessions/{chat}/messages")).json()["items"]
    assert [(m["kind"], m["content"]) for m in messages] == [
        ("user", "hello"),
        ("assistant", "from the live worker"),
    ]
    expiry = float(WORKER_ENV["LOOPWRIGHT_HEARTBEAT_EXPIRY_S"])
    lag_s = restarted_ms / 1000 - (last_beat.timestamp() + expiry)
    print(f"\nthe run was running again {lag_s:.2f} s after the slow worker's heartbeat expired")
    assert 0 < lag_s < 10
    await live.stop()
    await api.stop()
