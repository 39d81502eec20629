"""Agents: CRUD, search, filters, pagination, validation and conflicts."""

from __future__ import annotations

import pytest

from tests.conftest import Live, Store

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def test_create_read_update_delete(store: Store) -> None:
    agent = await store.agent(name="writer", description="Writes docs", max_steps=5)
    assert agent["model"] == "offline:default"
    assert agent["max_steps"] == 5
    assert agent["timeout_s"] == 300
    assert agent["mode"] == "single" and agent["status"] == "active"
    url = f"{store.path}/agents/{agent['id']}"
    r = await store.admin.patch(url, json={"goal": "ship", "status": "disabled"})
    assert r.status_code == 200
    assert r.json()["goal"] == "ship" and r.json()["status"] == "disabled"
    assert (await store.admin.get(url)).json()["goal"] == "ship"
    assert (await store.admin.delete(url)).status_code == 204
    r = await store.admin.get(url)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert (await store.admin.delete(url)).status_code == 404


async def test_list_search_filter_paginate(store: Store) -> None:
    for i in range(5):
        await store.agent(name=f"bot-{i}", description="alpha" if i % 2 else "beta")
    await store.agent(name="planner")
    r = await store.admin.get(f"{store.path}/agents", params={"q": "ALPHA"})
    assert sorted(a["name"] for a in r.json()["items"]) == ["bot-1", "bot-3"]
    r = await store.admin.get(f"{store.path}/agents", params={"mode": "single"})
    assert len(r.json()["items"]) == 6
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await store.admin.get(f"{store.path}/agents", params=params)).json()
        seen += [a["name"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["planner", "bot-4", "bot-3", "bot-2", "bot-1", "bot-0"]  # newest first


async def test_memory_settings(store: Store) -> None:
    r = await store.admin.post(f"{store.path}/agents", json={"name": "x", "memory": True})
    assert r.status_code == 201, r.text
    assert r.json()["memory"] is True and r.json()["memory_budget_tokens"] == 500
    assert r.json()["reflect_idle_s"] is None
    url = f"{store.path}/agents/{r.json()['id']}"
    r = await store.admin.patch(url, json={"memory_budget_tokens": 50, "reflect_idle_s": 60})
    assert r.status_code == 200 and r.json()["memory_budget_tokens"] == 50, r.text
    assert r.json()["reflect_idle_s"] == 60
    for bad in ({"memory_budget_tokens": -1}, {"reflect_idle_s": 1}, {"memory": "yes"}):
        assert (await store.admin.patch(url, json=bad)).status_code == 422


async def test_team_agents_with_executor_settings(store: Store) -> None:
    agent = await store.agent(
        name="crew", mode="team", executor_model="offline:default", executor_system_prompt="Dig."
    )
    assert (agent["mode"], agent["executor_model"]) == ("team", "offline:default")
    assert agent["executor_system_prompt"] == "Dig."
    plain = await store.agent(name="solo")
    assert (plain["executor_model"], plain["executor_system_prompt"]) == (None, "")
    url = f"{store.path}/agents/{plain['id']}"
    r = await store.admin.patch(url, json={"mode": "team", "executor_model": "nowhere:x"})
    assert r.status_code == 422, r.text  # an executor model must exist like any model
    r = await store.admin.patch(url, json={"mode": "team", "executor_system_prompt": "Read."})
    assert r.status_code == 200 and r.json()["mode"] == "team"
    r = await store.admin.patch(url, json={"executor_model": None})
    assert r.status_code == 200 and r.json()["executor_model"] is None
    r = await store.admin.get(f"{store.path}/agents", params={"mode": "team"})
    assert sorted(a["name"] for a in r.json()["items"]) == ["crew", "solo"]


async def test_duplicate_name_is_409_on_create_and_rename(store: Store) -> None:
    await store.agent(name="alice")
    bob = await store.agent(name="bob")
    r = await store.admin.post(f"{store.path}/agents", json={"name": "alice"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"
    r = await store.admin.patch(f"{store.path}/agents/{bob['id']}", json={"name": "alice"})
    assert r.status_code == 409


async def test_same_name_in_two_stores_is_fine(live: Live, store: Store) -> None:
    other = await live.new_store()
    await store.agent(name="twin")
    await other.agent(name="twin")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "max_steps": 0}, "max_steps"),
        ({"name": "x", "max_steps": 101}, "max_steps"),
        ({"name": "x", "temperature": 3.5}, "temperature"),
        ({"name": "x", "timeout_s": -1}, "timeout_s"),
        ({"name": "x", "max_steps": "15"}, "max_steps"),
        ({"name": "x", "memory": "yes"}, "memory"),
        ({"name": "x", "mode": "swarm"}, "mode"),
        ({"name": "x", "colour": "blue"}, "colour"),
        ({"name": ""}, "name"),
        ({"description": "no name"}, "name"),
        ({"name": "x", "model": "no-colon"}, "model"),
        ({"name": "x", "tools": "create_task"}, "tools"),
    ],
)
async def test_invalid_bodies_are_422(store: Store, body: dict[str, object], field: str) -> None:
    r = await store.admin.post(f"{store.path}/agents", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert any(field in [str(x) for x in d["loc"]] for d in error["details"])


async def test_unknown_provider_is_422(store: Store) -> None:
    r = await store.admin.post(f"{store.path}/agents", json={"name": "x", "model": "nowhere:gpt-9"})
    assert r.status_code == 422
    assert "offline" in r.json()["error"]["details"]["known_providers"]


async def test_patch_rejects_nulls_for_required_fields(store: Store) -> None:
    agent = await store.agent()
    r = await store.admin.patch(f"{store.path}/agents/{agent['id']}", json={"name": None})
    assert r.status_code == 422


async def test_malformed_json_is_400(store: Store) -> None:
    r = await store.admin.post(
        f"{store.path}/agents",
        content=b'{"name": "x",',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"


async def test_oversized_body_is_413(live: Live, store: Store) -> None:
    huge = "x" * (live.settings.max_body_bytes + 1)
    r = await store.admin.post(f"{store.path}/agents", json={"name": "x", "description": huge})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"

    async def chunks():  # no Content-Length: the limit still holds
        for _ in range(live.settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    r = await store.admin.post(
        f"{store.path}/agents", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert (await store.admin.get(f"{store.path}/agents")).json()["items"] == []


async def test_unknown_route_and_method_use_error_shape(store: Store) -> None:
    r = await store.admin.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await store.admin.put(f"{store.path}/agents")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
