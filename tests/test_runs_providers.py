"""Runs against a store-registered OpenAI-compatible provider (a fake server on loopback):
provider keys, tool errors, limits, cancel, busy policies and fallbacks."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from typing import Any

import pytest
from dbos import DBOS

from tests.conftest import Live, Store
from tests.llm.fakes import Fail, Reply, ToolCall
from tests.scripted import GatedLLM, Hold, tool_messages

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def provider(store: Store, base_url: str, key: str = "sk-test-123") -> None:
    r = await store.admin.post(
        f"{store.path}/providers",
        json={"name": "fake", "kind": "openai", "base_url": f"{base_url}/v1", "api_key": key},
    )
    assert r.status_code == 201, r.text


async def fake_chat(store: Store, base_url: str, **agent_fields: Any) -> dict[str, Any]:
    """A session with an agent on the fake provider's ``gpt-test``."""
    await provider(store, base_url)
    agent = await store.agent(model="fake:gpt-test", **agent_fields)
    return await store.session(agent["id"])


async def send(store: Store, session_id: str, content: str, wait: bool = True) -> dict[str, Any]:
    r = await store.admin.post(
        f"{store.path}/sessions/{session_id}/messages", json={"content": content, "wait": wait}
    )
    assert r.status_code in (200, 202), r.text
    return dict(r.json()["run"])


async def run_of(store: Store, run_id: str) -> dict[str, Any]:
    return dict((await store.admin.get(f"{store.path}/runs/{run_id}")).json())


async def wait_run(store: Store, run_id: str) -> dict[str, Any]:
    r = await store.admin.post(f"{store.path}/runs/{run_id}/wait", params={"timeout_s": 30})
    return dict(r.json())


async def test_provider_key_is_encrypted_and_never_returned(
    live: Live, store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    await provider(store, base_url, key="sk-secret-value-42")
    listed = (await store.admin.get(f"{store.path}/providers")).json()["items"]
    assert listed[0]["has_api_key"] is True
    assert "sk-secret-value-42" not in json.dumps(listed)
    with sqlite3.connect(live.settings.data_dir / "loopwright.db") as conn:
        stored = conn.execute("SELECT api_key_enc FROM providers").fetchall()
    assert stored and all("sk-secret-value-42" not in (s or "") for (s,) in stored)
    agent = await store.agent(model="fake:gpt-test")
    chat = await store.session(agent["id"])
    llm.push(Reply(text=["hi"]))
    run = await send(store, chat["id"], "hello")
    assert run["status"] == "completed"
    assert llm.requests[-1].headers["authorization"] == "Bearer sk-secret-value-42"


async def test_a_removed_provider_stops_serving_runs_at_once(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    chat = await fake_chat(store, base_url)
    llm.push(Reply(text=["hi"]))
    assert (await send(store, chat["id"], "hello"))["status"] == "completed"  # now cached
    [row] = (await store.admin.get(f"{store.path}/providers")).json()["items"]
    r = await store.admin.delete(f"{store.path}/providers/{row['id']}")
    assert r.status_code == 204

    llm.push(Reply(text=["should not be asked"]))
    run = await send(store, chat["id"], "again")

    assert (run["status"], run["stop_reason"]) == ("failed", "model_error")
    assert "provider 'fake' is not configured" in run["error"]
    assert len(llm.requests) == 1


async def test_provider_registration_is_validated(store: Store) -> None:
    base = f"{store.path}/providers"
    r = await store.admin.post(base, json={"name": "openai", "kind": "openai"})
    assert r.status_code == 409
    r = await store.admin.post(base, json={"name": "x", "kind": "cohere"})
    assert r.status_code == 422
    r = await store.admin.post(
        base, json={"name": "inside", "kind": "openai", "base_url": "http://10.1.2.3/v1"}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "egress_denied"


async def test_tool_calls_usage_and_tool_errors_reach_the_model(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    chat = await fake_chat(store, base_url, tools=["create_task", "read_task"])
    llm.push(
        Reply(
            tool_calls=[
                ToolCall("create_task", {"title": "From the model"}, id="c1"),
                ToolCall("read_task", {"task_id": "tsk_missing"}, id="c2"),
                ToolCall("create_task", {"titel": "typo"}, id="c3"),
            ],
            input_tokens=30,
            output_tokens=12,
        ),
        Reply(text=["All ", "done."], input_tokens=50, output_tokens=4),
    )
    run = await send(store, chat["id"], "do things")
    assert (run["status"], run["steps"]) == ("completed", 2)
    assert run["usage"] == {"input_tokens": 80, "output_tokens": 16}
    results = {m["tool_call_id"]: m["content"] for m in tool_messages(llm.requests[1].body)}
    assert "From the model" in results["c1"]
    assert "not found" in results["c2"]
    assert "schema" in results["c3"]
    events = (await store.admin.get(f"{store.path}/events", params={"run_id": run["id"]})).json()
    types = [e["type"] for e in events["items"]]
    assert types.count("tool.completed") == 1 and types.count("tool.failed") == 2
    messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    final = messages["items"][-1]
    assert (final["content"], final["provider"], final["model"]) == (
        "All done.",
        "fake",
        "gpt-test",
    )
    assert final["usage"] == {"input_tokens": 50, "output_tokens": 4}


async def test_unassigned_tool_is_refused_even_when_the_model_names_it(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    chat = await fake_chat(store, base_url, tools=["list_tasks"])
    llm.push(
        Reply(tool_calls=[ToolCall("create_task", {"title": "sneaky"}, id="c1")]),
        Reply(text=["ok"]),
    )
    run = await send(store, chat["id"], "try it")
    assert run["status"] == "completed"
    refusal = tool_messages(llm.requests[1].body)[0]["content"]
    assert "not assigned" in refusal
    tasks = (await store.admin.get(f"{store.path}/events", params={"types": "task.created"})).json()
    assert tasks["items"] == []


async def test_model_failure_fails_the_run_with_a_reason(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    chat = await fake_chat(store, base_url)
    llm.push(Fail(401, "bad key"))
    run = await send(store, chat["id"], "hello")
    assert (run["status"], run["stop_reason"]) == ("failed", "model_error")
    assert "401" in run["error"] or "bad key" in run["error"]
    assert len(llm.requests) == 1  # 401 is not retried


async def test_fallback_model_answers_when_the_first_fails(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    chat = await fake_chat(store, base_url, fallback_models=["offline:default"])
    llm.push(Fail(401, "bad key"))
    run = await send(store, chat["id"], "hello")
    assert run["status"] == "completed"
    messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    assert messages["items"][-1]["provider"] == "offline"


async def test_max_steps_stops_a_model_that_never_stops(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    chat = await fake_chat(store, base_url, tools=["list_tasks"], max_steps=3)
    llm.push(*[Reply(tool_calls=[ToolCall("list_tasks", {}, id=f"c{i}")]) for i in range(5)])
    run = await send(store, chat["id"], "loop forever")
    assert (run["status"], run["stop_reason"], run["steps"]) == ("max_steps", "max_steps", 3)
    assert len(llm.requests) == 3


async def test_timeout_ends_a_hanging_run(store: Store, fake: tuple[GatedLLM, str]) -> None:
    llm, base_url = fake
    chat = await fake_chat(store, base_url, timeout_s=0.5)
    llm.push(Hold(Reply(text=["never"])))
    run = await send(store, chat["id"], "hang")
    assert (run["status"], run["stop_reason"]) == ("timed_out", "timeout")


async def test_cancel_interrupts_a_model_call_and_next_run_proceeds(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    chat = await fake_chat(store, base_url)
    llm.push(Hold(Reply(text=["too late"])), Reply(text=["second"]))
    first = await send(store, chat["id"], "first", wait=False)
    await llm.wait_for_requests(1)
    second = await send(store, chat["id"], "second", wait=False)
    assert (await run_of(store, second["id"]))["status"] == "queued"  # enqueue: waits its turn
    r = await store.admin.post(f"{store.path}/runs/{first['id']}/cancel")
    assert r.json()["status"] == "cancelled"
    assert (await wait_run(store, second["id"]))["status"] == "completed"
    cancelled = await run_of(store, first["id"])
    assert (cancelled["status"], cancelled["stop_reason"]) == ("cancelled", "cancelled")
    events = (await store.admin.get(f"{store.path}/events", params={"run_id": first["id"]})).json()
    assert [e["type"] for e in events["items"]].count("run.cancelled") == 1
    messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    assert "too late" not in [m["content"] for m in messages["items"]]


async def test_a_cancel_written_by_another_process_stops_the_model_call(
    live: Live, store: Store, fake: tuple[GatedLLM, str]
) -> None:
    """The worker watches its in-flight runs and interrupts those another process ended."""
    llm, base_url = fake
    chat = await fake_chat(store, base_url)
    llm.push(Hold(Reply(text=["never sent"])))  # the model call hangs until interrupted
    run = await send(store, chat["id"], "hello", wait=False)
    await llm.wait_for_requests(1)

    with sqlite3.connect(live.settings.data_dir / "loopwright.db") as conn:  # not this runtime
        conn.execute("UPDATE runs SET status = 'cancelled' WHERE id = ?", (run["id"],))

    handle = await DBOS.retrieve_workflow_async(run["id"])
    outcome = await asyncio.wait_for(handle.get_result(), timeout=10)
    assert outcome == "cancelled"  # the loop stopped at the interrupted model call
    assert (await run_of(store, run["id"]))["status"] == "cancelled"
    messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    assert [m["kind"] for m in messages["items"]] == ["user"]


async def test_busy_policies_reject_and_interrupt(store: Store, fake: tuple[GatedLLM, str]) -> None:
    llm, base_url = fake
    await provider(store, base_url)
    agent = await store.agent(model="fake:gpt-test")
    strict = await store.session(agent["id"], busy_policy="reject")
    llm.push(Hold(Reply(text=["slow"])))
    active = await send(store, strict["id"], "one", wait=False)
    await llm.wait_for_requests(1)
    r = await store.admin.post(
        f"{store.path}/sessions/{strict['id']}/messages", json={"content": "two"}
    )
    assert r.status_code == 409
    assert r.json()["error"]["details"]["run_id"] == active["id"]
    await store.admin.post(f"{store.path}/runs/{active['id']}/cancel")

    eager = await store.session(agent["id"], busy_policy="interrupt")
    llm.push(Hold(Reply(text=["slow"])), Reply(text=["fresh"]))
    old = await send(store, eager["id"], "one", wait=False)
    await llm.wait_for_requests(2)
    new = await send(store, eager["id"], "two")
    assert new["status"] == "completed"
    assert (await run_of(store, old["id"]))["status"] == "cancelled"


async def test_concurrent_sends_to_one_session_run_in_order(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    chat = await fake_chat(store, base_url)
    llm.push(*[Reply(text=[f"answer {i}"]) for i in range(4)])
    runs = await asyncio.gather(*(send(store, chat["id"], f"q{i}", wait=False) for i in range(4)))
    finished = [await wait_run(store, r["id"]) for r in runs]
    assert all(r["status"] == "completed" for r in finished)
    starts = sorted((r["started_at"], r["id"]) for r in finished)
    assert [i for _, i in starts] == sorted(r["id"] for r in finished)  # one at a time, in order
    ends = {r["id"]: r["finished_at"] for r in finished}
    for (_, earlier), (started, _) in itertools.pairwise(starts):
        assert ends[earlier] <= started
