"""Tool approvals on a real server: a held call does not run, the run waits without its slot,
a person approves (with edited arguments checked against the tool's schema) or rejects (the
model reads why), an approval is decided once, expires, needs a role that may decide, and is
listed per store, agent and run with who decided."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Store
from tests.llm.fakes import Reply, ToolCall
from tests.scripted import GatedLLM, tool_messages
from tests.test_tools_in_runs import agent_with

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def wait_status(store: Store, run_id: str, status: str) -> dict[str, Any]:
    """The run once it reached ``status`` (followed on its event stream)."""
    for _ in range(600):
        run = (await store.admin.get(f"{store.path}/runs/{run_id}")).json()
        if run["status"] == status:
            return dict(run)
        r = await store.admin.post(f"{store.path}/runs/{run_id}/wait", params={"timeout_s": 0.1})
        assert r.status_code == 200
    raise AssertionError(f"run {run_id} never reached {status}")


async def pending(store: Store, **params: str) -> list[dict[str, Any]]:
    r = await store.admin.get(f"{store.path}/approvals", params={"status": "pending", **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def held_call(
    store: Store, fake: tuple[GatedLLM, str], arguments: dict[str, Any], **agent: Any
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """An agent whose model calls ``create_task``: (agent, run id, the pending approval)."""
    llm, model_url = fake
    found = await agent_with(store, model_url, ["create_task", "list_projects"])
    r = await store.admin.patch(f"{store.path}/agents/{found['id']}", json=agent)
    assert r.status_code == 200, r.text
    llm.push(
        Reply(tool_calls=[ToolCall("create_task", arguments, id="c1")]),
        Reply(text=["done"]),
    )
    chat = await store.session(found["id"])
    r = await store.admin.post(
        f"{store.path}/sessions/{chat['id']}/messages", json={"content": "make a task"}
    )
    run_id = r.json()["run"]["id"]
    await wait_status(store, run_id, "waiting")
    [approval] = await pending(store, run_id=run_id)
    return found, run_id, approval


async def tasks(store: Store) -> list[str]:
    r = await store.admin.get(f"{store.path}/tasks")
    return [t["title"] for t in r.json()["items"]]


async def test_a_write_call_waits_for_approval_and_runs_with_edited_arguments(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, _ = fake
    agent, run_id, approval = await held_call(
        store, fake, {"title": "Draft"}, approval="read_write"
    )
    assert (approval["tool"], approval["arguments"]) == ("create_task", {"title": "Draft"})
    assert await tasks(store) == []  # not run
    assert len(llm.requests) == 1
    assert [a["id"] for a in await pending(store, agent_id=agent["id"])] == [approval["id"]]
    events = (await store.admin.get(f"{store.path}/events", params={"run_id": run_id})).json()
    types = [e["type"] for e in events["items"]]
    assert "approval.requested" in types and types[-1] == "run.waiting"

    readonly = store.live.client(await store.key("readonly"))
    async with readonly:
        r = await readonly.post(f"{store.path}/approvals/{approval['id']}/approve", json={})
        assert r.status_code == 403
    path = f"{store.path}/approvals/{approval['id']}"
    r = await store.admin.post(f"{path}/approve", json={"arguments": {"title": 42}})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    r = await store.admin.post(f"{path}/approve", json={"arguments": {"title": "Final"}})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["decided_by"]
    run = await store.admin.post(f"{store.path}/runs/{run_id}/wait", params={"timeout_s": 30})
    assert run.json()["status"] == "completed", run.text
    assert await tasks(store) == ["Final"]
    assert "Final" in tool_messages(llm.requests[-1].body)[0]["content"]
    r = await store.admin.post(f"{path}/approve", json={})
    assert r.status_code == 409
    r = await store.admin.post(f"{path}/reject", json={"reason": "late"})
    assert r.status_code == 409
    decided = (await store.admin.get(f"{store.path}/approvals", params={"run_id": run_id})).json()
    assert [a["status"] for a in decided["items"]] == ["approved"]


async def test_a_rejection_reaches_the_model_and_nothing_runs(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, _ = fake
    _, run_id, approval = await held_call(store, fake, {"title": "Nope"}, approval="always")
    r = await store.admin.post(
        f"{store.path}/approvals/{approval['id']}/reject", json={"reason": "not today"}
    )
    assert r.status_code == 200, r.text
    run = await store.admin.post(f"{store.path}/runs/{run_id}/wait", params={"timeout_s": 30})
    assert run.json()["status"] == "completed"
    assert await tasks(store) == []
    assert "not today" in tool_messages(llm.requests[-1].body)[0]["content"]


async def test_per_tool_override_and_read_only_calls_pass(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    agent = await agent_with(store, model_url, ["create_task", "list_projects"])
    r = await store.admin.patch(
        f"{store.path}/agents/{agent['id']}",
        json={"approval": "read_write", "tool_approvals": {"create_task": "never"}},
    )
    assert r.status_code == 200 and r.json()["tool_approvals"] == {"create_task": "never"}
    llm.push(
        Reply(
            tool_calls=[
                ToolCall("create_task", {"title": "Free"}, id="a"),
                ToolCall("list_projects", {}, id="b"),
            ]
        ),
        Reply(text=["done"]),
    )
    chat = await store.session(agent["id"])
    r = await store.admin.post(
        f"{store.path}/sessions/{chat['id']}/messages", json={"content": "go", "wait": True}
    )
    assert r.json()["run"]["status"] == "completed", r.text
    assert await tasks(store) == ["Free"]
    assert await pending(store) == []


async def test_an_expired_approval_counts_as_rejected(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, _ = fake
    r = await store.admin.patch(f"{store.path}/settings", json={"approval_ttl_s": 10})
    assert r.status_code == 200
    _, run_id, approval = await held_call(store, fake, {"title": "Slow"}, approval="always")
    run = await store.admin.post(f"{store.path}/runs/{run_id}/wait", params={"timeout_s": 60})
    assert run.json()["status"] == "completed", run.text
    assert "expired" in tool_messages(llm.requests[-1].body)[0]["content"]
    r = await store.admin.post(f"{store.path}/approvals/{approval['id']}/approve", json={})
    assert r.status_code == 409
    assert r.json()["error"]["details"]["status"] == "expired"
    assert await tasks(store) == []


async def test_a_waiting_run_gives_its_slot_back(store: Store, fake: tuple[GatedLLM, str]) -> None:
    """At the server's store concurrency, waiting runs hold no slot: as many more can run."""
    _, run_id, approval = await held_call(store, fake, {"title": "One"}, approval="always")
    limit = store.live.settings.store_concurrency
    others = await store.agent()
    chats = [await store.session(others["id"]) for _ in range(limit)]
    sent = await asyncio.gather(
        *(
            store.admin.post(
                f"{store.path}/sessions/{c['id']}/messages", json={"content": "hi", "wait": True}
            )
            for c in chats
        )
    )
    assert all(r.json()["run"]["status"] == "completed" for r in sent)
    r = await store.admin.post(f"{store.path}/approvals/{approval['id']}/reject", json={})
    assert r.status_code == 200
    run = await store.admin.post(f"{store.path}/runs/{run_id}/wait", params={"timeout_s": 30})
    assert run.json()["status"] == "completed"
