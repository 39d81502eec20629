"""Kill -9 the server in the middle of a run and start it again, on SQLite and on PostgreSQL:
the run finishes, no model request that had completed is sent again, and a built-in tool's
effect happens exactly once.

The server runs as a real process; the model is a fake OpenAI-compatible server in this
process. One test kills the server while it waits on a model call; the other arms a failpoint
that SIGKILLs the server right after a tool's transaction commits, before DBOS records the
step (the moment an at-least-once design would repeat the tool). The rows are counted in the
server's own database (its SQLite file, or its PostgreSQL database), also while it is dead.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.llm.fakes import Reply, ToolCall
from tests.procs import OPERATOR_KEY, ServerProcess
from tests.scripted import GatedLLM, Hold, tool_messages


async def setup_store(server: ServerProcess, model_url: str) -> tuple[httpx.AsyncClient, str]:
    """A store with a provider pointing at the fake, an agent and a session."""
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=operator) as op:
        assert (await op.post("/v1/stores", json={"id": "durable"})).status_code == 201
        key = (await op.post("/v1/stores/durable/keys", json={"role": "admin"})).json()["key"]
    admin = httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    base = f"{server.base_url}/v1/stores/durable"
    r = await admin.post(
        f"{base}/providers",
        json={"name": "fake", "kind": "openai", "base_url": f"{model_url}/v1", "api_key": "k"},
    )
    assert r.status_code == 201, r.text
    r = await admin.post(
        f"{base}/agents", json={"name": "worker", "model": "fake:m", "tools": ["create_task"]}
    )
    agent_id = r.json()["id"]
    session_id = (await admin.post(f"{base}/sessions", json={"agent_id": agent_id})).json()["id"]
    return admin, session_id


def durable_server(data_dir: Path, database_url: str | None) -> ServerProcess:
    env = {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32"}
    if database_url is not None:
        env["LOOPWRIGHT_DATABASE_URL"] = database_url
    return ServerProcess(data_dir, env)


def count(server: ServerProcess, sql: str) -> int:
    """``sql``'s count in the server's database, read directly (the server may be dead): its
    PostgreSQL database if it has one, else its SQLite file (which must then exist)."""
    url = server.env.get("LOOPWRIGHT_DATABASE_URL")
    path = server.data_dir / "loopwright.db"
    assert path.exists() == (url is None)  # no SQLite file beside a PostgreSQL server
    url = url or f"sqlite:///{path}"
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


def first_requests(llm: GatedLLM) -> list[Any]:
    """Model requests that carried no tool result yet: the run's first model step."""
    return [r for r in llm.requests if not tool_messages(r.body)]


async def finish(server: ServerProcess, admin: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    r = await admin.post(
        f"{server.base_url}/v1/stores/durable/runs/{run_id}/wait", params={"timeout_s": 60}
    )
    return dict(r.json())


async def test_killed_during_a_model_call_resumes_without_repeating(
    tmp_path: Path, database_url: str | None, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    server = durable_server(tmp_path, database_url)
    await server.start()
    admin, session_id = await setup_store(server, model_url)
    llm.push(
        Reply(tool_calls=[ToolCall("create_task", {"title": "Exactly once"}, id="c1")]),
        Hold(Reply(text=["lost"])),  # the second model call hangs: we kill the server there
        Reply(text=["Created it."]),
    )
    r = await admin.post(
        f"{server.base_url}/v1/stores/durable/sessions/{session_id}/messages",
        json={"content": "make the task"},
    )
    run_id = r.json()["run"]["id"]
    await llm.wait_for_requests(2)
    await server.kill()

    await server.start()
    run = await finish(server, admin, run_id)
    assert (run["status"], run["steps"]) == ("completed", 2)
    assert len(first_requests(llm)) == 1  # the completed first model request was not resent
    assert count(server, "SELECT count(*) FROM tasks") == 1
    assert count(server, "SELECT count(*) FROM events WHERE type = 'task.created'") == 1
    assert count(server, "SELECT count(*) FROM tool_calls") == 1
    await admin.aclose()
    await server.stop()


async def test_killed_right_after_a_tool_commit_does_not_run_it_again(
    tmp_path: Path, database_url: str | None, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    server = durable_server(tmp_path, database_url)
    await server.start(LOOPWRIGHT_FAILPOINT="after_tool_commit")
    admin, session_id = await setup_store(server, model_url)
    llm.push(
        Reply(tool_calls=[ToolCall("create_task", {"title": "Exactly once"}, id="c1")]),
        Reply(text=["Created it."]),
    )
    r = await admin.post(
        f"{server.base_url}/v1/stores/durable/sessions/{session_id}/messages",
        json={"content": "make the task"},
    )
    run_id = r.json()["run"]["id"]
    assert await server.exited() == -9  # it killed itself at the failpoint
    assert count(server, "SELECT count(*) FROM tasks") == 1  # the tool had committed

    await server.start()
    run = await finish(server, admin, run_id)
    assert run["status"] == "completed"
    assert count(server, "SELECT count(*) FROM tasks") == 1
    assert count(server, "SELECT count(*) FROM events WHERE type = 'task.created'") == 1
    assert count(server, "SELECT count(*) FROM events WHERE type = 'tool.completed'") == 1
    assert len(first_requests(llm)) == 1
    assert "Exactly once" in tool_messages(llm.requests[-1].body)[0]["content"]
    await admin.aclose()
    await server.stop()


async def test_api_only_process_accepts_messages_and_a_worker_runs_them(tmp_path: Path) -> None:
    """`serve --no-worker` stores the queued run; a worker on the same database runs it."""
    api = ServerProcess(tmp_path, {"LOOPWRIGHT_SWEEP_S": "0.2"})
    api.extra_args = ["--no-worker"]
    await api.start()
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=operator, timeout=30) as op:
        assert (await op.post("/v1/stores", json={"id": "split"})).status_code == 201
        agent = (await op.post("/v1/stores/split/agents", json={"name": "a"})).json()
        chat = (await op.post("/v1/stores/split/sessions", json={"agent_id": agent["id"]})).json()
        r = await op.post(
            f"/v1/stores/split/sessions/{chat['id']}/messages", json={"content": "hi"}
        )
        assert r.status_code == 202
        run_id = r.json()["run"]["id"]
        assert (await op.get(f"/v1/stores/split/runs/{run_id}")).json()["status"] == "queued"
        worker = ServerProcess(tmp_path, {"LOOPWRIGHT_SWEEP_S": "0.2"})
        await worker.start()
        done = await op.post(f"/v1/stores/split/runs/{run_id}/wait", params={"timeout_s": 60})
        assert done.json()["status"] == "completed"
    await worker.stop()
    await api.stop()


async def test_an_approval_survives_kill_9_before_and_after_its_decision(
    tmp_path: Path, database_url: str | None, fake: tuple[GatedLLM, str]
) -> None:
    """Killed while the call waits for a person, and again right after the approval commits
    (before the run is started): the decision is kept, applied once, and the tool runs once."""
    llm, model_url = fake
    server = durable_server(tmp_path, database_url)
    await server.start()
    admin, session_id = await setup_store(server, model_url)
    base = f"{server.base_url}/v1/stores/durable"
    agents = (await admin.get(f"{base}/agents")).json()["items"]
    r = await admin.patch(f"{base}/agents/{agents[0]['id']}", json={"approval": "read_write"})
    assert r.status_code == 200, r.text
    llm.push(
        Reply(tool_calls=[ToolCall("create_task", {"title": "Approved once"}, id="c1")]),
        Reply(text=["Created it."]),
    )
    r = await admin.post(f"{base}/sessions/{session_id}/messages", json={"content": "task"})
    run_id = r.json()["run"]["id"]
    approval = None
    for _ in range(600):  # until the call asks
        found = (await admin.get(f"{base}/approvals", params={"status": "pending"})).json()
        if found["items"]:
            approval = found["items"][0]
            break
        await admin.post(f"{base}/runs/{run_id}/wait", params={"timeout_s": 0.1})
    assert approval is not None
    await server.kill()  # between the request and the decision

    await server.start(LOOPWRIGHT_FAILPOINT="after_approval_decided")
    base = f"{server.base_url}/v1/stores/durable"  # a new port
    # killed after the approval's commit but perhaps before the run parked: the recovered run
    # reaches the call again, finds the pending approval and parks (without asking twice)
    status = None
    for _ in range(600):
        status = (await admin.get(f"{base}/runs/{run_id}")).json()["status"]
        if status == "waiting":
            break
        await admin.post(f"{base}/runs/{run_id}/wait", params={"timeout_s": 0.1})
    assert status == "waiting"
    assert count(server, "SELECT count(*) FROM approvals") == 1
    with contextlib.suppress(httpx.HTTPError):  # it kills itself once the decision commits
        await admin.post(f"{base}/approvals/{approval['id']}/approve", json={})
    assert await server.exited() == -9
    assert count(server, "SELECT count(*) FROM tasks") == 0
    assert count(server, "SELECT count(*) FROM approvals WHERE status = 'approved'") == 1

    await server.start()
    base = f"{server.base_url}/v1/stores/durable"
    run = await finish(server, admin, run_id)
    assert run["status"] == "completed"
    assert count(server, "SELECT count(*) FROM tasks") == 1
    assert count(server, "SELECT count(*) FROM events WHERE type = 'approval.decided'") == 1
    assert count(server, "SELECT count(*) FROM events WHERE type = 'tool.completed'") == 1
    assert len(first_requests(llm)) == 1
    r = await admin.post(f"{base}/approvals/{approval['id']}/approve", json={})
    assert r.status_code == 409
    await admin.aclose()
    await server.stop()
