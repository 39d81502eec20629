"""Store isolation: every route, called with another store's admin key, answers 404.

The route list comes from the app itself, so a new route without an entry here fails the test.
"""

from __future__ import annotations

from typing import Any

import httpx
from httpx_ws import aconnect_ws

from tests.conftest import Live, Store

# A valid body for every write route, so only isolation can make the call fail.
BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/v1/stores/{store_id}"): None,
    ("POST", "/v1/stores/{store_id}/keys"): {"role": "member"},
    ("GET", "/v1/stores/{store_id}/keys"): None,
    ("DELETE", "/v1/stores/{store_id}/keys/{key_id}"): None,
    ("POST", "/v1/stores/{store_id}/agents"): {"name": "intruder"},
    ("GET", "/v1/stores/{store_id}/agents"): None,
    ("GET", "/v1/stores/{store_id}/agents/{agent_id}"): None,
    ("PATCH", "/v1/stores/{store_id}/agents/{agent_id}"): {"goal": "hijack"},
    ("DELETE", "/v1/stores/{store_id}/agents/{agent_id}"): None,
    ("POST", "/v1/stores/{store_id}/sessions"): {"agent_id": "{agent_id}"},
    ("GET", "/v1/stores/{store_id}/sessions"): None,
    ("GET", "/v1/stores/{store_id}/sessions/{session_id}"): None,
    ("PATCH", "/v1/stores/{store_id}/sessions/{session_id}"): {"title": "mine"},
    ("DELETE", "/v1/stores/{store_id}/sessions/{session_id}"): None,
    ("GET", "/v1/stores/{store_id}/sessions/{session_id}/messages"): None,
    ("POST", "/v1/stores/{store_id}/sessions/{session_id}/messages"): {"content": "hi"},
    ("GET", "/v1/stores/{store_id}/runs"): None,
    ("GET", "/v1/stores/{store_id}/runs/{run_id}"): None,
    ("GET", "/v1/stores/{store_id}/runs/{run_id}/steps"): None,
    ("POST", "/v1/stores/{store_id}/runs/{run_id}/cancel"): None,
    ("POST", "/v1/stores/{store_id}/runs/{run_id}/wait"): None,
    ("GET", "/v1/stores/{store_id}/events"): None,
    ("GET", "/v1/stores/{store_id}/plans"): None,
    ("GET", "/v1/stores/{store_id}/plans/{plan_id}"): None,
    ("GET", "/v1/stores/{store_id}/tool-calls"): None,
    ("GET", "/v1/stores/{store_id}/usage"): None,
    ("POST", "/v1/stores/{store_id}/mcp-servers"): {
        "name": "mine",
        "transport": "streamable_http",
        "url": "http://127.0.0.1:9/mcp",
    },
    ("GET", "/v1/stores/{store_id}/mcp-servers"): None,
    ("GET", "/v1/stores/{store_id}/mcp-servers/{server_id}"): None,
    ("PATCH", "/v1/stores/{store_id}/mcp-servers/{server_id}"): {"url": "http://127.0.0.1:9/x"},
    ("DELETE", "/v1/stores/{store_id}/mcp-servers/{server_id}"): None,
    ("POST", "/v1/stores/{store_id}/mcp-servers/{server_id}/health"): None,
    ("POST", "/v1/stores/{store_id}/providers"): {"name": "mine", "kind": "openai"},
    ("GET", "/v1/stores/{store_id}/providers"): None,
    ("DELETE", "/v1/stores/{store_id}/providers/{provider_id}"): None,
    ("POST", "/v1/stores/{store_id}/projects"): {"name": "intruder"},
    ("GET", "/v1/stores/{store_id}/projects"): None,
    ("GET", "/v1/stores/{store_id}/projects/{project_id}"): None,
    ("PATCH", "/v1/stores/{store_id}/projects/{project_id}"): {"description": "hijack"},
    ("DELETE", "/v1/stores/{store_id}/projects/{project_id}"): None,
    ("POST", "/v1/stores/{store_id}/tasks"): {"title": "intruder", "project_id": "{project_id}"},
    ("GET", "/v1/stores/{store_id}/tasks"): None,
    ("GET", "/v1/stores/{store_id}/tasks/{task_id}"): None,
    ("PATCH", "/v1/stores/{store_id}/tasks/{task_id}"): {"status": "done"},
    ("DELETE", "/v1/stores/{store_id}/tasks/{task_id}"): None,
    ("POST", "/v1/stores/{store_id}/documents"): {"title": "x", "project_id": "{project_id}"},
    ("GET", "/v1/stores/{store_id}/documents"): None,
    ("GET", "/v1/stores/{store_id}/documents/{document_id}"): None,
    ("PATCH", "/v1/stores/{store_id}/documents/{document_id}"): {"content": "hijack"},
    ("DELETE", "/v1/stores/{store_id}/documents/{document_id}"): None,
    ("GET", "/v1/stores/{store_id}/tools"): None,
    ("POST", "/v1/stores/{store_id}/tools"): {
        "name": "intruder-hook",
        "description": "x",
        "url": "http://127.0.0.1:9/x",
        "method": "POST",
        "parameters": {"type": "object"},
    },
    ("DELETE", "/v1/stores/{store_id}/tools/{name}"): None,
    ("POST", "/v1/stores/{store_id}/tools/{name}/test"): {"arguments": {}},
    ("POST", "/v1/stores/{store_id}/memories"): {"agent_id": "{agent_id}", "content": "x"},
    ("GET", "/v1/stores/{store_id}/memories"): None,
    ("GET", "/v1/stores/{store_id}/memories/{memory_id}"): None,
    ("PATCH", "/v1/stores/{store_id}/memories/{memory_id}"): {"content": "hijack"},
    ("DELETE", "/v1/stores/{store_id}/memories/{memory_id}"): None,
    ("GET", "/v1/stores/{store_id}/memory-suggestions"): None,
    ("GET", "/v1/stores/{store_id}/memory-suggestions/{suggestion_id}"): None,
    ("POST", "/v1/stores/{store_id}/memory-suggestions/{suggestion_id}/approve"): {},
    ("POST", "/v1/stores/{store_id}/memory-suggestions/{suggestion_id}/reject"): None,
    ("POST", "/v1/stores/{store_id}/sessions/{session_id}/reflect"): None,
    ("GET", "/v1/stores/{store_id}/memory-settings"): None,
    ("PUT", "/v1/stores/{store_id}/memory-settings"): {"embedding_model": None},
    ("GET", "/v1/stores/{store_id}/settings"): None,
    ("PATCH", "/v1/stores/{store_id}/settings"): {"runs_enabled": False},
    ("GET", "/v1/stores/{store_id}/limits"): None,
    ("GET", "/v1/stores/{store_id}/approvals"): None,
    ("GET", "/v1/stores/{store_id}/approvals/{approval_id}"): None,
    ("POST", "/v1/stores/{store_id}/approvals/{approval_id}/approve"): {},
    ("POST", "/v1/stores/{store_id}/approvals/{approval_id}/reject"): {"reason": "mine"},
    ("POST", "/v1/stores/{store_id}/schedules"): {
        "agent_id": "{agent_id}",
        "cron": "* * * * *",
        "message": "x",
    },
    ("GET", "/v1/stores/{store_id}/schedules"): None,
    ("POST", "/v1/stores/{store_id}/cron-preview"): {"cron": "* * * * *"},
    ("GET", "/v1/stores/{store_id}/schedules/{schedule_id}"): None,
    ("PATCH", "/v1/stores/{store_id}/schedules/{schedule_id}"): {"message": "hijack"},
    ("DELETE", "/v1/stores/{store_id}/schedules/{schedule_id}"): None,
    ("POST", "/v1/stores/{store_id}/schedules/{schedule_id}/pause"): None,
    ("POST", "/v1/stores/{store_id}/schedules/{schedule_id}/resume"): None,
    ("GET", "/v1/stores/{store_id}/schedules/{schedule_id}/fires"): None,
    ("POST", "/v1/stores/{store_id}/webhooks"): {"agent_id": "{agent_id}"},
    ("GET", "/v1/stores/{store_id}/webhooks"): None,
    ("GET", "/v1/stores/{store_id}/webhooks/{webhook_id}"): None,
    ("PATCH", "/v1/stores/{store_id}/webhooks/{webhook_id}"): {"template": "hijack"},
    ("DELETE", "/v1/stores/{store_id}/webhooks/{webhook_id}"): None,
    ("GET", "/v1/stores/{store_id}/webhooks/{webhook_id}/receipts"): None,
    ("GET", "/v1/stores/{store_id}/deliveries"): None,
    ("GET", "/v1/stores/{store_id}/signing-secret"): None,
    ("GET", "/v1/stores/{store_id}/agents/{agent_id}/mail-senders"): None,
    ("PUT", "/v1/stores/{store_id}/agents/{agent_id}/mail-senders"): {"senders": ["@evil.test"]},
    ("POST", "/v1/stores/{store_id}/agents/{agent_id}/mailbox"): {"content": "hi"},
}


async def store_routes(live: Live) -> list[tuple[str, str]]:
    """Every (method, path) of the server's OpenAPI document that acts inside a store."""
    document = (await live.http.get("/openapi.json")).json()
    return [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if "{store_id}" in path
        for method in operations
    ]


def fill(template: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        template = template.replace("{" + name + "}", value)
    return template


def fill_body(body: dict[str, Any] | None, ids: dict[str, str]) -> dict[str, Any] | None:
    if body is None:
        return None
    return {k: fill(v, ids) if isinstance(v, str) else v for k, v in body.items()}


async def _victim(live: Live) -> tuple[Store, dict[str, str]]:
    victim = await live.new_store("victim")
    agent = await victim.agent(name="secret-agent")
    chat = await victim.session(agent["id"])
    sent = await victim.admin.post(
        f"{victim.path}/sessions/{chat['id']}/messages", json={"content": "private"}
    )
    keys = (await victim.admin.get(f"{victim.path}/keys")).json()["items"]
    mcp = await victim.admin.post(
        f"{victim.path}/mcp-servers",
        json={
            "name": "private-mcp",
            "transport": "streamable_http",
            "url": "http://127.0.0.1:9/mcp",
        },
    )
    provider = await victim.admin.post(
        f"{victim.path}/providers", json={"name": "private-llm", "kind": "openai"}
    )
    project = await victim.admin.post(f"{victim.path}/projects", json={"name": "secret"})
    task = await victim.admin.post(
        f"{victim.path}/tasks", json={"title": "private", "project_id": project.json()["id"]}
    )
    document = await victim.admin.post(
        f"{victim.path}/documents", json={"title": "private", "project_id": project.json()["id"]}
    )
    # a team run on the offline model: a plan, its executor child runs
    team = await victim.agent(
        name="secret-team", mode="team", tools=["list_projects", "read_project"]
    )
    team_chat = await victim.session(team["id"])
    team_run = (
        await victim.admin.post(
            f"{victim.path}/sessions/{team_chat['id']}/messages",
            json={"content": "compare my projects"},
        )
    ).json()["run"]["id"]
    waited = await victim.admin.post(f"{victim.path}/runs/{team_run}/wait")
    assert waited.json()["status"] == "completed", waited.text
    plan = (await victim.admin.get(f"{victim.path}/plans", params={"run_id": team_run})).json()[
        "items"
    ][0]
    executor = (
        await victim.admin.get(f"{victim.path}/runs", params={"parent_run_id": team_run})
    ).json()["items"][0]
    hook = await victim.admin.post(  # never called: no request is made to its URL
        f"{victim.path}/tools",
        json={
            "name": "victim-hook",
            "description": "private",
            "url": "http://127.0.0.1:9/x",
            "method": "POST",
            "parameters": {"type": "object"},
            "headers": {"Authorization": "Bearer victim-secret"},
        },
    )
    assert hook.status_code == 201, hook.text
    memory = await victim.admin.post(
        f"{victim.path}/memories", json={"agent_id": agent["id"], "content": "private"}
    )
    remembering = await victim.session(agent["id"])
    await victim.admin.post(
        f"{victim.path}/sessions/{remembering['id']}/messages",
        json={"content": "remember that the code is 42", "wait": True},
    )
    reflected = await victim.admin.post(f"{victim.path}/sessions/{remembering['id']}/reflect")
    await victim.admin.post(f"{victim.path}/runs/{reflected.json()['run_id']}/wait")
    suggestion = (await victim.admin.get(f"{victim.path}/memory-suggestions")).json()["items"][0]
    # a tool call held for approval (the offline model calls create_task)
    careful = await victim.agent(name="careful", tools=["create_task"], approval="always")
    careful_chat = await victim.session(careful["id"])
    held = await victim.admin.post(
        f"{victim.path}/sessions/{careful_chat['id']}/messages",
        json={"content": "create a task called Secret"},
    )
    approvals: list[dict[str, Any]] = []
    for _ in range(600):  # until the call asks
        approvals = (await victim.admin.get(f"{victim.path}/approvals")).json()["items"]
        if approvals:
            break
        await victim.admin.post(
            f"{victim.path}/runs/{held.json()['run']['id']}/wait", params={"timeout_s": 0.1}
        )
    schedule = await victim.admin.post(
        f"{victim.path}/schedules",
        json={"agent_id": agent["id"], "cron": "0 0 1 1 *", "message": "private"},
    )
    webhook = await victim.admin.post(f"{victim.path}/webhooks", json={"agent_id": agent["id"]})
    ids = {
        "store_id": victim.id,
        "agent_id": agent["id"],
        "session_id": chat["id"],
        "run_id": sent.json()["run"]["id"],
        "key_id": keys[0]["id"],
        "project_id": project.json()["id"],
        "task_id": task.json()["id"],
        "document_id": document.json()["id"],
        "provider_id": provider.json()["id"],
        "server_id": mcp.json()["id"],
        "name": "victim-hook",
        "plan_id": plan["id"],
        "team_run_id": team_run,
        "executor_run_id": executor["id"],
        "memory_id": memory.json()["id"],
        "suggestion_id": suggestion["id"],
        "approval_id": approvals[0]["id"],
        "schedule_id": schedule.json()["id"],
        "webhook_id": webhook.json()["id"],
    }
    return victim, ids


async def test_every_route_hides_other_stores(any_live: Live) -> None:
    live = any_live
    victim, ids = await _victim(live)
    intruder = await live.new_store("intruder")
    routes = await store_routes(live)
    assert set(routes) == set(BODIES), "add new routes to BODIES"
    for method, template in routes:
        body = fill_body(BODIES[(method, template)], ids)
        r = await intruder.admin.request(method, fill(template, ids), json=body)
        assert r.status_code == 404, f"{method} {template}: {r.status_code} {r.text}"
        assert r.json()["error"]["code"] == "not_found"
    # Nothing changed in the victim store.
    agent = (await victim.admin.get(f"{victim.path}/agents/{ids['agent_id']}")).json()
    assert agent["goal"] == "" and agent["name"] == "secret-agent"
    assert (
        await victim.admin.get(f"{victim.path}/sessions/{ids['session_id']}")
    ).status_code == 200
    messages = (
        await victim.admin.get(f"{victim.path}/sessions/{ids['session_id']}/messages")
    ).json()["items"]
    assert [m["content"] for m in messages if m["kind"] == "user"] == ["private"]
    assert len((await victim.admin.get(f"{victim.path}/keys")).json()["items"]) == 1
    tools = (await victim.admin.get(f"{victim.path}/tools")).json()["items"]
    assert [t["name"] for t in tools if t["kind"] == "http"] == ["victim-hook"]
    memory = (await victim.admin.get(f"{victim.path}/memories/{ids['memory_id']}")).json()
    assert memory["content"] == "private"
    suggestion = f"{victim.path}/memory-suggestions/{ids['suggestion_id']}"
    assert (await victim.admin.get(suggestion)).json()["status"] == "pending"
    approval = await victim.admin.get(f"{victim.path}/approvals/{ids['approval_id']}")
    assert approval.json()["status"] == "pending"
    assert (await victim.admin.get(f"{victim.path}/settings")).json()["runs_enabled"] is True


async def test_own_store_reaches_every_read_route(any_live: Live) -> None:
    live = any_live
    """The same walk with the owner's key finds every object (so the 404s above mean isolation)."""
    victim, ids = await _victim(live)
    for method, template in await store_routes(live):
        if method == "GET":
            r = await victim.admin.get(fill(template, ids))
            assert r.status_code == 200, f"{template}: {r.status_code}"


async def test_ids_from_another_store_in_bodies_and_filters(any_live: Live) -> None:
    live = any_live
    _, ids = await _victim(live)
    intruder = await live.new_store("intruder")
    r = await intruder.admin.post(f"{intruder.path}/sessions", json={"agent_id": ids["agent_id"]})
    assert r.status_code == 404
    r = await intruder.admin.get(
        f"{intruder.path}/events", params={"session_id": ids["session_id"]}
    )
    assert r.json()["items"] == []
    r = await intruder.admin.get(f"{intruder.path}/runs", params={"session_id": ids["session_id"]})
    assert r.json()["items"] == []
    r = await intruder.admin.get(f"{intruder.path}/sessions", params={"agent_id": ids["agent_id"]})
    assert r.json()["items"] == []
    r = await intruder.admin.get(
        f"{intruder.path}/events", params={"parent_run_id": ids["team_run_id"]}
    )
    assert r.json()["items"] == []
    r = await intruder.admin.get(f"{intruder.path}/plans", params={"run_id": ids["team_run_id"]})
    assert r.json()["items"] == []
    r = await intruder.admin.get(f"{intruder.path}/plans/{ids['plan_id']}")
    assert r.status_code == 404
    r = await intruder.admin.get(
        f"{intruder.path}/runs", params={"parent_run_id": ids["team_run_id"]}
    )
    assert r.json()["items"] == []
    r = await intruder.admin.get(f"{intruder.path}/runs/{ids['executor_run_id']}")
    assert r.status_code == 404


async def test_websocket_of_another_store_is_not_found(any_live: Live) -> None:
    live = any_live
    victim, _ = await _victim(live)
    intruder = await live.new_store("intruder")
    key = intruder.admin.headers["Authorization"].split()[1]
    url = f"{live.base_url.replace('http', 'ws')}{victim.path}/ws?token={key}"
    async with httpx.AsyncClient() as client, aconnect_ws(url, client) as ws:
        assert (await ws.receive_json())["error"]["code"] == "not_found"
