"""Guardrails on real servers (SQLite and PostgreSQL): store settings and who may change them,
the rollout switch, runs per minute exact under parallel sends, token budgets that concurrent
runs cannot overspend, per-tool limits that hold for parallel calls, usage so far."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.conftest import Live, Store
from tests.llm.fakes import Reply, ToolCall, serve
from tests.scripted import GatedLLM, Hold
from tests.test_http_tools import Target, target_app
from tests.test_tools_in_runs import agent_with, audit, run

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def settings_of(store: Store) -> dict[str, Any]:
    r = await store.admin.get(f"{store.path}/settings")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def operator_sets(store: Store, **fields: Any) -> None:
    r = await store.live.http.patch(f"{store.path}/settings", json=fields)
    assert r.status_code == 200, r.text


async def send(client: httpx.AsyncClient, store: Store, session_id: str) -> httpx.Response:
    return await client.post(
        f"{store.path}/sessions/{session_id}/messages", json={"content": "hello"}
    )


async def test_settings_have_defaults_and_roles_decide_who_changes_what(store: Store) -> None:
    found = await settings_of(store)
    assert found["runs_per_min"] == 20
    assert found["tokens_per_min"] == 30_000
    assert found["runs_enabled"] is True
    assert found["daily_token_budget"] is None
    assert found["store_concurrency"] >= 1
    r = await store.admin.patch(
        f"{store.path}/settings", json={"over_limit": "queue", "tool_limits": {"web": 3}}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["over_limit"], r.json()["tool_limits"]) == ("queue", {"web": 3})
    r = await store.admin.patch(f"{store.path}/settings", json={"runs_per_min": 1000})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["details"] == {"fields": ["runs_per_min"]}
    await operator_sets(store, runs_per_min=5, daily_token_budget=None)
    found = await settings_of(store)
    assert (found["runs_per_min"], found["over_limit"]) == (5, "queue")
    member = store.live.client(await store.key("member"))
    async with member:
        r = await member.patch(f"{store.path}/settings", json={"runs_enabled": False})
        assert r.status_code == 403
    for bad in (
        {"runs_per_min": -1},
        {"tokens_per_min": 0},
        {"runs_per_min": 10**12},
        {"daily_token_budget": "lots"},
        {"approval_ttl_s": 1},
        {"tool_limits": {"web": -3}},
        {"no_such_setting": 1},
    ):
        r = await store.live.http.patch(f"{store.path}/settings", json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "validation_error"


async def test_the_rollout_switch_refuses_new_messages_and_keeps_accepted_ones(
    store: Store,
) -> None:
    agent = await store.agent()
    chat = await store.session(agent["id"])
    accepted = await send(store.admin, store, chat["id"])
    assert accepted.status_code == 202, accepted.text
    r = await store.admin.patch(f"{store.path}/settings", json={"runs_enabled": False})
    assert r.status_code == 200, r.text
    refused = await send(store.admin, store, chat["id"])
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "unavailable"
    assert "runs_enabled" in refused.json()["error"]["message"]
    run_id = accepted.json()["run"]["id"]
    done = await wait_run(store, run_id)
    assert done["status"] == "completed"
    messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    assert [m["kind"] for m in messages["items"]].count("user") == 1
    r = await store.admin.patch(f"{store.path}/settings", json={"runs_enabled": True})
    assert (await send(store.admin, store, chat["id"])).status_code == 202


async def within_one_utc_minute() -> None:
    """Wait out a UTC minute about to end, so a per-minute window cannot roll over mid-test."""
    if time.time() % 60 > 45:
        await asyncio.sleep(60 - time.time() % 60 + 0.5)


async def wait_run(store: Store, run_id: str) -> dict[str, Any]:
    r = await store.admin.post(f"{store.path}/runs/{run_id}/wait", params={"timeout_s": 60})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_parallel_sends_against_runs_per_min_admit_exactly_k(any_live: Live) -> None:
    store = await any_live.new_store("rpm")
    agent = await store.agent()
    chats = [await store.session(agent["id"]) for _ in range(12)]
    k = 4
    await within_one_utc_minute()
    await operator_sets(store, runs_per_min=k, tokens_per_min=None)
    answers = await asyncio.gather(*(send(store.admin, store, c["id"]) for c in chats))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [202] * k + [429] * (len(chats) - k), statuses
    over = next(r for r in answers if r.status_code == 429)
    assert over.json()["error"]["code"] == "rate_limited"
    assert over.json()["error"]["details"]["limit"] == "runs_per_min"
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    usage = (await store.admin.get(f"{store.path}/limits")).json()
    assert usage["minute"]["runs"] == {"used": k, "limit": k}
    # nothing refused was kept: one user message per accepted run
    for answer, chat in zip(answers, chats, strict=True):
        items = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
        assert len(items["items"]) >= (1 if answer.status_code == 202 else 0)
        if answer.status_code == 429:
            assert items["items"] == []


async def test_the_queue_policy_keeps_the_run_queued_instead_of_refusing(store: Store) -> None:
    agent = await store.agent()
    first, second = await store.session(agent["id"]), await store.session(agent["id"])
    await within_one_utc_minute()
    await operator_sets(store, runs_per_min=1)
    await store.admin.patch(f"{store.path}/settings", json={"over_limit": "queue"})
    minute = int(time.time() // 60)
    assert (await send(store.admin, store, first["id"])).status_code == 202
    later = await send(store.admin, store, second["id"])
    assert later.status_code == 202, later.text
    run = await store.admin.get(f"{store.path}/runs/{later.json()['run']['id']}")
    if int(time.time() // 60) == minute:
        assert run.json()["status"] == "queued"


async def test_concurrent_runs_never_overspend_the_daily_budget(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    """(On PostgreSQL with two processes in ``test_guardrails_processes``.)"""
    llm, model_url = fake
    agent = await agent_with(store, model_url, [])
    await operator_sets(store, runs_per_min=None, tokens_per_min=None, daily_token_budget=3_500)
    spent = await overspend_attempt(llm, [store.admin], store.path, agent["id"])
    usage = (await store.admin.get(f"{store.path}/limits")).json()
    assert usage["day"]["tokens"] == {"used": spent, "limit": 3_500}


async def overspend_attempt(
    llm: GatedLLM, clients: list[httpx.AsyncClient], path: str, agent_id: str
) -> int:
    """Three requests held in the model reserve about 1,050 tokens each of a 3,500 budget:
    three more runs (through ``clients`` in turn) cannot cover theirs and end ``budget``
    without a request; the three held finish. The tokens the runs spent."""
    held = [Hold(Reply(text=["ok"], input_tokens=40, output_tokens=2)) for _ in range(3)]
    llm.push(*held)

    async def send_new(i: int) -> str:
        client = clients[i % len(clients)]
        chat = (await client.post(f"{path}/sessions", json={"agent_id": agent_id})).json()
        r = await client.post(f"{path}/sessions/{chat['id']}/messages", json={"content": "hi"})
        assert r.status_code == 202, r.text
        return str(r.json()["run"]["id"])

    first = [await send_new(i) for i in range(3)]
    await llm.wait_for_requests(3)
    over = [await send_new(i) for i in range(3)]

    async def wait(run_id: str) -> dict[str, Any]:
        r = await clients[0].post(f"{path}/runs/{run_id}/wait", params={"timeout_s": 60})
        assert r.status_code == 200, r.text
        return dict(r.json())

    stopped = [await wait(run_id) for run_id in over]
    assert [(r["status"], r["stop_reason"]) for r in stopped] == [("failed", "budget")] * 3
    assert "daily token budget" in str(stopped[0]["error"])
    assert len(llm.requests) == 3  # none of them was sent
    for hold in held:
        hold.gate.set()
    done = [await wait(run_id) for run_id in first]
    assert [r["status"] for r in done] == ["completed"] * 3
    spent = sum(r["usage"]["input_tokens"] + r["usage"]["output_tokens"] for r in done)
    assert spent == 3 * 42
    return int(spent)


async def test_per_tool_limit_holds_for_parallel_calls_of_one_response(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    target = Target(release=asyncio.Event())
    target.release.set()
    async with serve(target_app(target)) as target_url:
        r = await store.admin.post(
            f"{store.path}/tools",
            json={
                "name": "lookup",
                "description": "Look a thing up",
                "url": f"{target_url}/echo/items/{{item}}",
                "method": "GET",
                "parameters": {
                    "type": "object",
                    "properties": {"item": {"type": "string"}},
                    "required": ["item"],
                },
                "read_only": True,
            },
        )
        assert r.status_code == 201, r.text
        await store.admin.patch(f"{store.path}/settings", json={"tool_limits": {"lookup": 3}})
        agent = await agent_with(store, model_url, ["lookup"])
        await within_one_utc_minute()
        calls = [ToolCall("lookup", {"item": str(i)}, id=f"p{i}") for i in range(7)]
        llm.push(Reply(tool_calls=calls), Reply(text=["ok"]))
        done = await run(store, agent["id"])
    assert done["status"] == "completed"
    records = await audit(store, run_id=done["id"])
    assert sum(r["outcome"] == "ok" for r in records) == 3
    assert sum(r["outcome"] == "refused" for r in records) == 4
    usage = (await store.admin.get(f"{store.path}/limits")).json()
    assert {"tool": "lookup", "calls_this_minute": {"used": 3, "limit": 3}} in usage["tools"]
