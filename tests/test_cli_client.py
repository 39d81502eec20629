"""The CLI's everyday commands, through the API: output, --json, empty results, errors and
exit codes; and `loopwright worker`. The commands whose output the database decides (run and
event listings, queues, following events) run against SQLite and PostgreSQL servers; the agent
commands only print what the API answers (its 409 on PostgreSQL is test_agents.py's)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import cast

import httpx
import pytest

from loopwright.client import AsyncClient
from loopwright.client.events import ApprovalRequestedEvent, Event
from loopwright.console import exits
from tests.conftest import Store
from tests.procs import OPERATOR_KEY, ServerProcess, free_port


async def lw(store: Store, key: str | None, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPWRIGHT_")}
    env["LOOPWRIGHT_URL"] = store.live.base_url
    if key is not None:
        env["LOOPWRIGHT_KEY"] = key
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loopwright", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_agent_commands_from_create_to_delete(store: Store) -> None:
    key = await store.key("admin")
    code, out, _ = await lw(store, key, "agent", "list")
    assert (code, out.strip()) == (0, f"No agents in store {store.id}.")
    assert json.loads((await lw(store, key, "agent", "list", "--json"))[1]) == []

    code, out, err = await lw(
        store, key, "agent", "create", "scribe", "--tools", "create_task,list_tasks", "--json"
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["tools"] == ["create_task", "list_tasks"]
    code, out, _ = await lw(store, key, "agent", "show", "scribe")
    assert code == 0 and "create_task" in out and created["id"] in out
    code, out, _ = await lw(store, key, "agent", "edit", "scribe", "--max-steps", "4", "--json")
    assert code == 0 and json.loads(out)["max_steps"] == 4
    code, out, _ = await lw(store, key, "agent", "list")
    assert code == 0 and "scribe" in out

    code, _, err = await lw(store, key, "agent", "create", "scribe")
    assert code == exits.FAILED and "conflict" in err
    code, _, err = await lw(store, key, "agent", "create", "x", "--max-steps", "0")
    assert code == exits.USAGE and "max_steps" in err
    code, _, err = await lw(store, key, "agent", "edit", "scribe")
    assert code == exits.USAGE and "nothing to change" in err
    code, _, err = await lw(store, key, "agent", "edit", "scribe", "--mode", "crowd")
    assert code == exits.USAGE and "--mode" in err

    code, out, _ = await lw(store, key, "agent", "delete", "scribe")
    assert code == 0 and "deleted agent scribe" in out
    code, _, err = await lw(store, key, "agent", "show", "scribe")
    assert code == exits.NOT_FOUND and "no agent 'scribe'" in err


@pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL
async def test_sessions_runs_events_and_tools(store: Store) -> None:
    key = await store.key("admin")
    code, out, _ = await lw(store, key, "session", "list")
    assert (code, out.strip()) == (0, f"No sessions in store {store.id}.")
    assert (await lw(store, key, "runs", "list"))[1].strip() == "No runs."
    agent = await store.agent(tools=["create_task"])
    session = await store.session(agent["id"])
    r = await store.admin.post(
        f"{store.path}/sessions/{session['id']}/messages",
        json={"content": "create a task called Tea", "wait": True},
    )
    run_id = r.json()["run"]["id"]

    code, out, _ = await lw(store, key, "session", "list", "--agent", agent["name"])
    assert code == 0 and session["id"] in out
    code, out, _ = await lw(store, key, "runs", "list", "--session", session["id"], "--json")
    assert [r["id"] for r in json.loads(out)] == [run_id]
    code, out, _ = await lw(store, key, "runs", "show", run_id)
    assert code == 0 and "completed" in out and "final_answer" in out
    code, out, _ = await lw(store, key, "runs", "cancel", run_id, "--json")
    assert code == 0 and json.loads(out)["status"] == "completed"  # it had ended already
    code, _, err = await lw(store, key, "runs", "show", "run_nope")
    assert code == exits.NOT_FOUND and "not_found" in err

    code, out, _ = await lw(store, key, "events", "tail", "--run", run_id)
    lines = out.strip().splitlines()
    assert code == 0 and "chat.message_sent" in lines[0] and "run.completed" in lines[-1]
    code, out, _ = await lw(store, key, "events", "tail", "--run", run_id, "--json")
    events = [json.loads(line) for line in out.strip().splitlines()]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and events[-1]["type"] == "run.completed"
    code, out, _ = await lw(
        store, key, "events", "tail", "--run", run_id, "--types", "tool.completed", "--json"
    )
    assert [json.loads(line)["type"] for line in out.strip().splitlines()] == ["tool.completed"]
    code, out, err = await lw(store, key, "events", "tail", "--session", "ses_none")
    assert code == 0 and "No events." in err

    code, out, _ = await lw(store, key, "tools", "list")
    assert code == 0 and "create_task" in out and "read-only" in out
    code, out, _ = await lw(
        store, key, "tools", "test", "create_task", "--args", '{"title": "Jam"}', "--json"
    )
    assert code == 0 and json.loads(out)["ok"] is True
    code, _, err = await lw(store, key, "tools", "test", "create_task", "--args", "{nope")
    assert code == exits.USAGE and "--args is not JSON" in err
    code, _, err = await lw(store, key, "tools", "test", "no_such_tool")
    assert code == exits.NOT_FOUND


@pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL
async def test_events_tail_follow_prints_new_events(store: Store) -> None:
    key = await store.key("readonly")
    agent = await store.agent()
    session = await store.session(agent["id"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPWRIGHT_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loopwright", "events", "tail", "-f", "--json",
        "--session", session["id"], "--url", store.live.base_url, "--key", key,
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        await store.admin.post(
            f"{store.path}/sessions/{session['id']}/messages", json={"content": "hi"}
        )
        seen: list[str] = []
        async with asyncio.timeout(60):
            while "run.completed" not in seen:
                seen.append(json.loads(await proc.stdout.readline())["type"])
        assert (
            seen[0] == "session.created" and "chat.message_sent" in seen and "run.started" in seen
        )
    finally:
        proc.send_signal(signal.SIGINT)
        assert await proc.wait() == exits.INTERRUPTED


async def test_clear_errors_for_keys_and_addresses(store: Store) -> None:
    code, _, err = await lw(store, "lw_wrong", "agent", "list")
    assert code == exits.DENIED and "unauthenticated" in err
    readonly = await store.key("readonly")
    code, _, err = await lw(store, readonly, "agent", "create", "x")
    assert code == exits.DENIED and "forbidden" in err
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loopwright", "runs", "list",
        "--url", f"http://127.0.0.1:{free_port()}", "--key", readonly,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err_bytes = await proc.communicate()
    assert proc.returncode == exits.UNREACHABLE and "error:" in err_bytes.decode()


async def test_worker_runs_what_an_api_only_server_queued(tmp_path: Path) -> None:
    api = ServerProcess(tmp_path, {"LOOPWRIGHT_SWEEP_S": "0.2"})
    api.extra_args = ["--no-worker"]
    await api.start()
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    env = {**os.environ, "LOOPWRIGHT_SWEEP_S": "0.2", "LOOPWRIGHT_LOG_LEVEL": "warning"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=operator, timeout=90) as op:
        assert (await op.post("/v1/stores", json={"id": "split"})).status_code == 201
        agent = (await op.post("/v1/stores/split/agents", json={"name": "a"})).json()
        chat = (await op.post("/v1/stores/split/sessions", json={"agent_id": agent["id"]})).json()
        r = await op.post(
            f"/v1/stores/split/sessions/{chat['id']}/messages", json={"content": "hi"}
        )
        run_id = r.json()["run"]["id"]
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loopwright", "worker", "--data-dir", str(tmp_path), env=env
        )
        try:
            done = await op.post(f"/v1/stores/split/runs/{run_id}/wait", params={"timeout_s": 80})
            assert done.json()["status"] == "completed"
        finally:
            worker.send_signal(signal.SIGTERM)
            assert await worker.wait() == 0
    await api.stop()


async def held_call(lw_client: AsyncClient, agent_id: str, text: str) -> tuple[str, str]:
    """Send ``text`` in a new session and follow its run until a tool call waits for approval:
    (approval id, run id)."""
    session = await lw_client.sessions.create(agent_id)
    stream = cast(
        AsyncGenerator[Event, None], await lw_client.sessions.send(session.id, text, stream=True)
    )
    async for event in stream:
        if isinstance(event, ApprovalRequestedEvent):
            await stream.aclose()
            assert event.run_id is not None
            return event.payload.approval_id, event.run_id
    raise AssertionError("the run ended without asking")


@pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL
async def test_approvals_list_approve_and_reject(store: Store) -> None:
    key = await store.key("admin")
    code, out, _ = await lw(store, key, "approvals", "list")
    assert (code, out.strip()) == (0, "No pending approvals.")
    assert json.loads((await lw(store, key, "approvals", "list", "--json"))[1]) == []
    async with AsyncClient(store.live.base_url, key) as client:
        agent = await client.agents.create(name="asks", tools=["create_task"], approval="always")
        first, first_run = await held_call(client, agent.id, "create a task called Tea")
        second, _ = await held_call(client, agent.id, "create a task called Cake")

        code, out, _ = await lw(store, key, "approvals", "list")
        assert code == 0 and first in out and second in out and "create_task" in out
        assert out.index(second) < out.index(first)  # newest first
        code, out, _ = await lw(store, key, "approvals", "list", "--run", first_run, "--json")
        [listed] = json.loads(out)
        assert (listed["id"], listed["arguments"]) == (first, {"title": "Tea"})
        code, _, err = await lw(store, key, "approvals", "list", "--status", "maybe")
        assert code == exits.USAGE and "--status" in err

        # A message behind the held run of its session is queued after it: runs show says so.
        session_id = (await client.runs.get(first_run)).session_id
        behind = (await client.sessions.send(session_id, "and then?")).run.id
        code, out, _ = await lw(store, key, "runs", "show", behind)
        assert code == 0 and f"queue: 0 ahead, 0 running, after {first_run}" in out

        args = '{"title": "Tea with honey"}'
        code, out, err = await lw(store, key, "approvals", "approve", first, "--args", args)
        assert (code, out.strip()) == (0, f"approved {first} (create_task)"), err
        assert (await client.runs.wait(first_run, timeout_s=60)).status == "completed"
        assert [t.title for t in (await client.tasks.list()).items] == ["Tea with honey"]
        code, _, err = await lw(store, key, "approvals", "approve", first)
        assert code == exits.FAILED and "conflict" in err
        reader = await store.key("readonly")
        code, _, err = await lw(store, reader, "approvals", "reject", second)
        assert code == exits.DENIED

        code, out, err = await lw(
            store, key, "approvals", "reject", second, "--reason", "no cake", "--json"
        )
        assert code == 0, err
        assert (json.loads(out)["status"], json.loads(out)["reason"]) == ("rejected", "no cake")
        code, out, _ = await lw(
            store, key, "approvals", "list", "--status", "all", "--agent", "asks"
        )
        assert code == 0 and "approved" in out and "rejected" in out
        code, _, err = await lw(store, key, "approvals", "approve", "apr_nothing")
        assert code == exits.NOT_FOUND
