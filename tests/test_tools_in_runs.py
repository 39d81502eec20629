"""HTTP and MCP tools inside runs: idempotency keys, unavailable servers, rate limits, audit."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import Store
from tests.llm.fakes import Reply, ToolCall, serve
from tests.mcp_servers import demo_server, down_url, serve_mcp
from tests.scripted import GatedLLM, tool_messages
from tests.test_http_tools import Target, target_app

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def agent_with(store: Store, model_url: str, tools: list[str]) -> dict[str, Any]:
    r = await store.admin.post(
        f"{store.path}/providers",
        json={"name": "fake", "kind": "openai", "base_url": f"{model_url}/v1", "api_key": "k"},
    )
    assert r.status_code == 201, r.text
    return await store.agent(model="fake:m", tools=tools)


async def run(store: Store, agent_id: str, content: str = "go") -> dict[str, Any]:
    chat = await store.session(agent_id)
    r = await store.admin.post(
        f"{store.path}/sessions/{chat['id']}/messages", json={"content": content, "wait": True}
    )
    assert r.status_code == 200, r.text
    return dict(r.json()["run"])


async def audit(store: Store, **params: str) -> list[dict[str, Any]]:
    r = await store.admin.get(f"{store.path}/tool-calls", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_http_tool_in_a_run_carries_the_idempotency_key(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    target = Target(release=asyncio.Event())
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
                "headers": {"Authorization": "Bearer tool-secret"},
                "read_only": True,
            },
        )
        assert r.status_code == 201, r.text
        agent = await agent_with(store, model_url, ["lookup"])
        llm.push(
            Reply(tool_calls=[ToolCall("lookup", {"item": "42"}, id="h1")]), Reply(text=["ok"])
        )
        done = await run(store, agent["id"])
    assert done["status"] == "completed"
    assert target.requests[0]["raw_path"] == "/echo/items/42"
    assert target.requests[0]["idempotency_key"] == f"{done['id']}:h1"
    assert target.requests[0]["authorization"] == "Bearer tool-secret"
    sent_tools = {t["function"]["name"] for t in llm.requests[0].body["tools"]}
    assert sent_tools == {"lookup"}
    [record] = await audit(store, run_id=done["id"])
    assert (record["tool_name"], record["outcome"], record["agent_id"]) == (
        "lookup",
        "ok",
        agent["id"],
    )
    assert record["arguments"] == {"item": "42"}
    assert "tool-secret" not in str(record["result"])


async def test_mcp_tool_in_a_run_and_a_down_server_only_hurts_its_own_tools(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    demo = demo_server("demo")
    async with serve_mcp(demo, "streamable_http") as url:
        for name, server_url in (("demo", url), ("gone", down_url())):
            r = await store.admin.post(
                f"{store.path}/mcp-servers",
                json={"name": name, "transport": "streamable_http", "url": server_url},
            )
            assert r.status_code == 201, r.text
        listed = (await store.admin.get(f"{store.path}/tools")).json()["items"]
        assert {"demo.add", "demo.note"} <= {t["name"] for t in listed}
        agent = await agent_with(store, model_url, ["demo.note", "demo.add", "gone.thing"])
        llm.push(
            Reply(
                tool_calls=[
                    ToolCall("demo__note", {"text": "remember me"}, id="m1"),
                    ToolCall("gone__thing", {}, id="m2"),
                ]
            ),
            Reply(text=["done"]),
        )
        done = await run(store, agent["id"])
    assert done["status"] == "completed"
    offered = {t["function"]["name"] for t in llm.requests[0].body["tools"]}
    assert offered == {"demo__note", "demo__add"}  # the down server's tool is not offered
    assert [n.text for n in demo.seen.notes] == ["remember me"]
    assert demo.seen.notes[0].idempotency_key == f"{done['id']}:m1"
    results = {m["tool_call_id"]: m["content"] for m in tool_messages(llm.requests[1].body)}
    assert "noted: remember me" in results["m1"]
    assert "not available" in results["m2"]
    outcomes = {r["tool_name"]: r["outcome"] for r in await audit(store, run_id=done["id"])}
    assert outcomes == {"demo.note": "ok", "gone.thing": "refused"}


async def test_per_tool_rate_limit_refuses_with_a_clear_error(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    agent = await agent_with(store, model_url, ["list_projects"])
    limit = 6  # the test server's LOOPWRIGHT_TOOL_CALLS_PER_MIN
    calls = [ToolCall("list_projects", {}, id=f"r{i}") for i in range(limit + 2)]
    llm.push(Reply(tool_calls=calls), Reply(text=["ok"]))
    done = await run(store, agent["id"])
    assert done["status"] == "completed"
    records = await audit(store, run_id=done["id"])
    assert sum(r["outcome"] == "ok" for r in records) == limit
    refused = [r for r in records if r["outcome"] == "refused"]
    assert len(refused) == 2
    assert "rate limited" in refused[0]["result"]["error"]
    results = [m["content"] for m in tool_messages(llm.requests[1].body)]
    assert sum("rate limited" in c for c in results) == 2


async def test_audit_filters_and_isolation(store: Store, fake: tuple[GatedLLM, str]) -> None:
    llm, model_url = fake
    agent = await agent_with(store, model_url, ["list_projects"])
    llm.push(
        Reply(
            tool_calls=[
                ToolCall("create_project", {"name": "x"}, id="a1"),
                ToolCall("list_projects", {}, id="a2"),
            ]
        ),
        Reply(text=["ok"]),
    )
    done = await run(store, agent["id"])
    refused = await audit(store, outcome="refused")
    assert [r["tool_name"] for r in refused] == ["create_project"]
    assert "not assigned" in refused[0]["result"]["error"]
    assert [r["call_id"] for r in await audit(store, tool="list_projects")] == ["a2"]
    assert len(await audit(store, run_id=done["id"])) == 2
    r = await store.admin.get(f"{store.path}/tool-calls", params={"outcome": "maybe"})
    assert r.status_code == 422


async def test_the_tool_test_route_calls_through_the_runs_http_client(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    """The test route calls a tool through the same dispatcher and shared HTTP client as a
    run's tool step: its call reuses the connection the run's call left in the runtime's pool
    (a client built per call opened a connection of its own every time)."""
    llm, model_url = fake
    target = Target(release=asyncio.Event())
    async with serve(target_app(target)) as target_url:
        r = await store.admin.post(
            f"{store.path}/tools",
            json={
                "name": "ping",
                "description": "Ping the target",
                "url": f"{target_url}/echo/ping",
                "method": "GET",
                "parameters": {"type": "object", "properties": {}},
            },
        )
        assert r.status_code == 201, r.text
        agent = await agent_with(store, model_url, ["ping"])
        llm.push(Reply(tool_calls=[ToolCall("ping", {}, id="p1")]), Reply(text=["ok"]))
        assert (await run(store, agent["id"]))["status"] == "completed"
        r = await store.admin.post(f"{store.path}/tools/ping/test", json={"arguments": {}})
        assert r.status_code == 200 and r.json()["ok"] is True, r.text
    assert [seen["idempotency_key"][:5] for seen in target.requests][1:] == ["test:"]
    run_call, test_call = target.peers
    assert test_call == run_call


async def test_mcp_tool_test_endpoint(store: Store) -> None:
    demo = demo_server("calc")
    async with serve_mcp(demo, "sse") as url:
        r = await store.admin.post(
            f"{store.path}/mcp-servers", json={"name": "calc", "transport": "sse", "url": url}
        )
        assert r.status_code == 201, r.text
        r = await store.admin.post(
            f"{store.path}/tools/calc.add/test", json={"arguments": {"a": 2, "b": 3}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True
        assert "5" in str(r.json()["result"])
        r = await store.admin.post(
            f"{store.path}/tools/calc.fail/test", json={"arguments": {"message": "nope"}}
        )
        assert (r.json()["ok"], "nope" in str(r.json()["result"])) == (False, True)
        r = await store.admin.post(f"{store.path}/tools/other.add/test", json={"arguments": {}})
        assert r.status_code == 404


@pytest.mark.in_process  # drives the in-process server's run ports
async def test_read_only_run_refuses_a_writing_tool_even_when_assigned(store: Store) -> None:
    """Team-mode executors run read-only: the tool step refuses a read_write tool."""
    from loopwright.engine.types import ToolCall as Call
    from loopwright.runtime import services
    from loopwright.runtime.durable import run_ports
    from loopwright.runtime.plan import RunPlan

    agent = await store.agent(tools=["create_task", "list_tasks"])
    chat = await store.session(agent["id"])
    plan = RunPlan(
        store_id=store.id,
        run_id="run_readonly_probe",
        session_id=chat["id"],
        agent_id=agent["id"],
        models=("offline:default",),
        system_prompt="",
        tools=("create_task", "list_tasks"),
        temperature=None,
        max_steps=3,
        deadline=time.time() + 60,
        read_only=True,
    )
    ports = run_ports(services.current(), plan, resumed=False)
    assert set(await ports.tools.available()) == {"list_tasks"}  # writers are not offered

    async def run_tool(call: Call) -> Any:
        route = ports.tools.route(call)
        return await ports.steps.run_tool_call(
            0, call, route, lambda ctx: ports.tools.call(call, ctx), 5.0
        )

    writing = await run_tool(Call("w1", "create_task", {"title": "no"}))
    reading = await run_tool(Call("r1", "list_tasks", {}))
    assert writing.ok is False
    assert "read-only" in writing.content["error"]
    assert reading.ok is True
    outcomes = {r["call_id"]: r["outcome"] for r in await audit(store, run_id=plan.run_id)}
    assert outcomes == {"w1": "refused", "r1": "ok"}
    tasks = (await store.admin.get(f"{store.path}/tasks")).json()["items"]
    assert tasks == []
