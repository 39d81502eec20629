"""Schedules: the API (validation with reasons, preview, pause and resume, history), fires
that start runs with trigger ``schedule``, exactly once per due time across two server
processes on one database, and across a SIGKILL in the middle of a fire."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Live, Store
from tests.procs import OPERATOR_KEY, ServerProcess

EVERY_SECOND = "* * * * * *"


async def fires_of(
    http: httpx.AsyncClient, path: str, until: int, timeout_s: float = 60
) -> list[Any]:
    """The schedule's fires once there are at least ``until`` (oldest first)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        r = await http.get(f"{path}/fires", params={"limit": 200})
        assert r.status_code == 200, r.text
        items: list[Any] = r.json()["items"]
        if len(items) >= until or asyncio.get_running_loop().time() > deadline:
            return list(reversed(items))
        await asyncio.sleep(0.2)  # polling the fire history as a client would


async def test_schedule_api_validates_previews_and_pauses(any_live: Live) -> None:
    store = await any_live.new_store()
    agent = await store.agent()
    base = f"{store.path}/schedules"
    bad = [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * *"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
    ]
    for fields, field in bad:
        body = {"agent_id": agent["id"], "cron": "0 9 * * *", "message": "hi", **fields}
        r = await store.admin.post(base, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"]["field"] == field
        r = await store.admin.post(
            f"{store.path}/cron-preview",
            json={
                "cron": body["cron"],
                "timezone": body.get("timezone", "UTC"),
            },
        )
        assert r.status_code == 422

    r = await store.admin.post(
        f"{store.path}/cron-preview", json={"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}
    )
    assert r.status_code == 200, r.text
    times = [datetime.fromisoformat(t) for t in r.json()["times"]]
    assert len(times) == 5 and times == sorted(times)
    assert all(t.hour in (7, 8) and t.minute == 0 and t.weekday() < 5 for t in times)

    r = await store.admin.post(
        base,
        json={
            "agent_id": agent["id"],
            "cron": "0 9 * * *",
            "timezone": "Europe/Paris",
            "message": "report",
            "missed_policy": "run_once",
            "session_policy": "reuse",
        },
    )
    assert r.status_code == 201, r.text
    schedule = r.json()
    assert schedule["next_due_at"] is not None and schedule["enabled"] is True
    path = f"{base}/{schedule['id']}"
    r = await store.admin.post(f"{path}/pause")
    assert r.json()["enabled"] is False and r.json()["next_due_at"] is None
    r = await store.admin.post(f"{path}/resume")
    assert r.json()["enabled"] is True and r.json()["next_due_at"] == schedule["next_due_at"]
    r = await store.admin.patch(path, json={"cron": "bad cron"})
    assert r.status_code == 422
    r = await store.admin.patch(path, json={"cron": "30 9 * * *"})
    assert r.status_code == 200 and r.json()["next_due_at"] != schedule["next_due_at"]
    assert (await store.admin.get(base)).json()["items"][0]["id"] == schedule["id"]
    assert (await store.admin.get(f"{path}/fires")).json()["items"] == []
    r = await store.admin.post(
        base, json={"agent_id": "agt_missing", "cron": "* * * * *", "message": "x"}
    )
    assert r.status_code == 404

    other = await any_live.new_store()
    assert (await other.admin.get(path.replace(store.path, other.path))).status_code == 404
    r = await other.admin.post(
        f"{other.path}/schedules",
        json={"agent_id": agent["id"], "cron": "* * * * *", "message": "x"},
    )
    assert r.status_code == 404  # another store's agent is not found: no run in that store
    assert (await store.admin.delete(path)).status_code == 204
    assert (await store.admin.get(path)).status_code == 404


async def test_a_schedule_fires_runs_and_records_them(store: Store) -> None:
    agent = await store.agent()
    r = await store.admin.post(
        f"{store.path}/schedules",
        json={
            "agent_id": agent["id"],
            "cron": EVERY_SECOND,
            "message": "hello",
            "session_policy": "reuse",
        },
    )
    assert r.status_code == 201, r.text
    path = f"{store.path}/schedules/{r.json()['id']}"
    fires = await fires_of(store.admin, path, 2)
    await store.admin.post(f"{path}/pause")
    assert len(fires) >= 2
    assert all(f["status"] == "started" and f["run_id"] for f in fires)
    assert len({f["session_id"] for f in fires}) == 1  # reuse: one session
    run = (await store.admin.get(f"{store.path}/runs/{fires[0]['run_id']}")).json()
    assert run["trigger"] == "schedule" and run["agent_id"] == agent["id"]


async def _tenant(base_url: str) -> tuple[httpx.AsyncClient, str]:
    store = f"st-sched-{datetime.now().microsecond}"
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
    ) as op:
        assert (await op.post("/v1/stores", json={"id": store})).status_code == 201
        key = (await op.post(f"/v1/stores/{store}/keys", json={"role": "admin"})).json()["key"]
    http = httpx.AsyncClient(
        base_url=f"{base_url}/v1/stores/{store}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    agent = (await http.post("/agents", json={"name": "ticker"})).json()
    return http, agent["id"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_every_second_fires_once_per_tick_across_two_processes(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {"LOOPWRIGHT_SCHEDULE_POLL_S": "0.2"}
    if database == "postgresql":
        env["LOOPWRIGHT_DATABASE_URL"] = request.getfixturevalue("own_pg_url")
    first = ServerProcess(tmp_path, {**env, "LOOPWRIGHT_EXECUTOR_ID": "first"})
    second = ServerProcess(tmp_path, {**env, "LOOPWRIGHT_EXECUTOR_ID": "second"})
    await first.start()
    await second.start()
    http, agent_id = await _tenant(first.base_url)
    try:
        r = await http.post(
            "/schedules", json={"agent_id": agent_id, "cron": EVERY_SECOND, "message": "tick"}
        )
        assert r.status_code == 201, r.text
        path = f"/schedules/{r.json()['id']}"
        fires = await fires_of(http, path, 5)  # five ticks: each once across the two
        await http.post(f"{path}/pause")
        fires = await fires_of(http, path, 10_000, timeout_s=0)
        dues = [datetime.fromisoformat(f["due_at"]) for f in fires]
        # every tick from the first to the last, each once, each with its own run
        assert dues == [dues[0] + timedelta(seconds=i) for i in range(len(dues))], dues
        assert all(f["status"] == "started" for f in fires)
        runs = (await http.get("/runs", params={"limit": 200})).json()["items"]
        scheduled = [run for run in runs if run["trigger"] == "schedule"]
        assert sorted(run["id"] for run in scheduled) == sorted(f["run_id"] for f in fires)
    finally:
        await http.aclose()
        await first.stop()
        await second.stop()


async def test_a_fire_killed_before_its_commit_fires_once_after_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    await server.start(LOOPWRIGHT_FAILPOINT="schedule_fire")
    http, agent_id = await _tenant(server.base_url)
    try:
        r = await http.post(
            "/schedules", json={"agent_id": agent_id, "cron": EVERY_SECOND, "message": "tick"}
        )
        assert r.status_code == 201, r.text
        first_due = r.json()["next_due_at"]
        path = f"/schedules/{r.json()['id']}"
        assert await server.exited() == -9  # killed itself inside its first fire
        await server.start()
        http = httpx.AsyncClient(
            base_url=server.base_url + http.base_url.path, headers=http.headers, timeout=30
        )
        fires = await fires_of(http, path, 3)
        await http.post(f"{path}/pause")
        fires = await fires_of(http, path, 10_000, timeout_s=0)
        dues = [f["due_at"] for f in fires]
        assert datetime.fromisoformat(dues[0]) == datetime.fromisoformat(first_due)
        assert len(dues) == len(set(dues))
        wait = await http.post(f"/runs/{fires[0]['run_id']}/wait", params={"timeout_s": 30})
        assert wait.json()["status"] == "completed"
    finally:
        await http.aclose()
        await server.stop()
