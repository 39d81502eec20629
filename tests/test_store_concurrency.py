"""A store runs at most ``store_concurrency`` runs at once, counted across every process on
its database; waiting runs start by priority, then age, as soon as a slot frees; a run admitted
by a process that died before starting it is started by another's sweep.

The servers run as processes of their own with a limit of 1 (the in-process test server keeps
the default); the model is a gated fake in this process, so a test holds a run in its model
call for as long as it needs the store's slot taken.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.llm.fakes import Reply
from tests.procs import ServerProcess
from tests.scripted import GatedLLM, Hold
from tests.tenant import Tenant

LIMITED = {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32", "LOOPWRIGHT_STORE_CONCURRENCY": "1"}


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(tmp_path, LIMITED)
    await server.start()
    yield server
    await server.stop()


async def test_a_store_runs_at_most_its_limit_and_the_next_starts_when_one_ends(
    limited: ServerProcess, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    tenant = await Tenant.create(limited.base_url, model_url)
    other = await Tenant.create(limited.base_url, model_url)
    held = Hold(Reply(text=["first"]))
    llm.push(held)
    first = await tenant.send("one")
    await llm.wait_for_requests(1)

    second = await tenant.send("two")
    llm.push(Reply(text=["elsewhere"]))
    assert (await other.wait(await other.send("hi")))["status"] == "completed"  # its own limit
    # The slot stays taken for as long as the first run holds it: the second waits.
    assert (await tenant.wait(second, timeout_s=1))["status"] == "queued"
    assert len(llm.requests) == 2

    llm.push(Reply(text=["second"]))
    held.gate.set()
    done_first, done_second = await tenant.wait(first), await tenant.wait(second)
    assert done_first["status"] == done_second["status"] == "completed"
    assert done_second["started_at"] >= done_first["finished_at"]


async def test_waiting_runs_start_by_priority_then_age(
    limited: ServerProcess, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    tenant = await Tenant.create(limited.base_url, model_url)
    held = Hold(Reply(text=["first"]))
    llm.push(held)
    first = await tenant.send("one")
    await llm.wait_for_requests(1)
    waiting = {
        priority: await tenant.send(priority, priority)
        for priority in ("low", "critical", "normal", "high")
    }
    late_critical = await tenant.send("critical too", "critical")
    # Each waiting run's place: what admission starts before it, in the same order.
    ahead = {
        run_id: (await tenant.http.get(f"/runs/{run_id}")).json()["queue"]
        for run_id in [*waiting.values(), late_critical]
    }
    assert {run_id: place["ahead"] for run_id, place in ahead.items()} == {
        waiting["critical"]: 0,
        late_critical: 1,
        waiting["high"]: 2,
        waiting["normal"]: 3,
        waiting["low"]: 4,
    }
    assert all(place["running"] == 1 for place in ahead.values())
    assert all(place["waits_for_run"] is None for place in ahead.values())
    started = (await tenant.http.get(f"/runs/{first}")).json()
    assert started["status"] == "running" and started["queue"] is None
    # A second message of the running session waits for that run, behind every waiting head.
    r = await tenant.http.post(
        f"/sessions/{started['session_id']}/messages", json={"content": "more", "priority": "low"}
    )
    follow_up = str(r.json()["run"]["id"])
    place = (await tenant.http.get(f"/runs/{follow_up}")).json()["queue"]
    assert (place["ahead"], place["waits_for_run"]) == (5, first)

    llm.push(*[Reply(text=["ok"]) for _ in range(6)])
    held.gate.set()
    assert (await tenant.wait(first))["status"] == "completed"
    assert (await tenant.wait(follow_up))["status"] == "completed"
    runs = {run_id: await tenant.wait(run_id) for run_id in [*waiting.values(), late_critical]}
    assert all(run["status"] == "completed" for run in runs.values())
    by_start = sorted(runs, key=lambda run_id: runs[run_id]["started_at"])
    assert by_start == [
        waiting["critical"],
        late_critical,
        waiting["high"],
        waiting["normal"],
        waiting["low"],
    ]
    prompts = [r.body["messages"][-1]["content"] for r in llm.requests[1:]]
    assert prompts == ["critical", "critical too", "high", "normal", "low", "more"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_the_limit_holds_across_processes_on_one_database(
    database: str, tmp_path: Path, fake: tuple[GatedLLM, str], request: pytest.FixtureRequest
) -> None:
    llm, model_url = fake
    env = dict(LIMITED)
    if database == "postgresql":
        env["LOOPWRIGHT_DATABASE_URL"] = request.getfixturevalue("own_pg_url")
    first = ServerProcess(tmp_path, {**env, "LOOPWRIGHT_EXECUTOR_ID": "first"})
    second = ServerProcess(tmp_path, {**env, "LOOPWRIGHT_EXECUTOR_ID": "second"})
    await first.start()
    await second.start()
    tenant = await Tenant.create(first.base_url, model_url)
    elsewhere = tenant.on(second.base_url)
    held = Hold(Reply(text=["first"]))
    llm.push(held)
    running = await tenant.send("one")
    await llm.wait_for_requests(1)

    waiting = await elsewhere.send("two")
    assert (await elsewhere.wait(waiting, timeout_s=1))["status"] == "queued"
    assert len(llm.requests) == 1
    place = (await elsewhere.http.get(f"/runs/{waiting}")).json()["queue"]
    assert place == {"ahead": 0, "running": 1, "waits_for_run": None}

    llm.push(Reply(text=["second"]))
    held.gate.set()
    done_first, done_second = await tenant.wait(running), await elsewhere.wait(waiting)
    assert done_second["status"] == "completed"
    assert done_second["started_at"] >= done_first["finished_at"]
    await first.stop()
    await second.stop()


async def test_a_run_admitted_by_a_process_that_died_is_started_by_the_sweep(
    tmp_path: Path, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    server = ServerProcess(tmp_path, {**LIMITED, "LOOPWRIGHT_SWEEP_S": "0.2"})
    await server.start()
    tenant = await Tenant.create(server.base_url, model_url)
    await server.stop()
    await server.start(LOOPWRIGHT_FAILPOINT="after_admit")  # on another port
    tenant = tenant.on(server.base_url)
    chat = (await tenant.http.post("/sessions", json={"agent_id": tenant.agent_id})).json()
    with pytest.raises(httpx.TransportError):  # it dies between admitting the run and starting it
        await tenant.http.post(f"/sessions/{chat['id']}/messages", json={"content": "hi"})
    assert await server.exited() == -9
    with sqlite3.connect(tmp_path / "loopwright.db") as db:
        [(run_id, status)] = db.execute("SELECT id, status FROM runs").fetchall()
    assert status == "running"  # admitted (it holds the store's slot), never started

    llm.push(Reply(text=["back"]))
    await server.start()
    tenant = tenant.on(server.base_url)
    finished = await tenant.wait(run_id)
    assert finished["status"] == "completed"
    assert len(llm.requests) == 1


async def test_a_run_whose_workflow_failed_outright_gives_its_slot_back(
    tmp_path: Path, fake: tuple[GatedLLM, str]
) -> None:
    """A workflow that raises before it can end its run (a defect, the database failing under
    it) leaves the run holding the store's slot; the sweep fails the run and admits the next."""
    llm, model_url = fake
    server = ServerProcess(tmp_path, {**LIMITED, "LOOPWRIGHT_SWEEP_S": "0.2"})
    await server.start(LOOPWRIGHT_FAILPOINT="workflow_error")
    tenant = await Tenant.create(server.base_url, model_url)
    first = await tenant.send("one")
    second = await tenant.send("two")

    done_first = await tenant.wait(first)
    assert (done_first["status"], done_first["stop_reason"]) == ("failed", "internal_error")
    assert "workflow ended (ERROR)" in done_first["error"]
    done_second = await tenant.wait(second)  # it had the slot next (and met the same defect)
    assert done_second["status"] == "failed"
    assert done_second["started_at"] >= done_first["finished_at"]
    assert llm.requests == []
    await server.stop()
