"""Reflection on both databases: a run of its own proposes memories from a session's new
messages (the offline model: "remember that ..."), never twice for the same messages, with its
tokens in the usage; people approve (edited), reject, or update the memory a suggestion
contradicts (the old one kept, marked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loopwright.runtime import reflection
from tests.conftest import Live, Store
from tests.test_runs_providers import send, wait_run

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def reflect(store: Store, session_id: str) -> dict[str, Any]:
    r = await store.admin.post(f"{store.path}/sessions/{session_id}/reflect")
    assert r.status_code == 202, r.text
    body = dict(r.json())
    if body["run_id"] is not None:
        run = await wait_run(store, body["run_id"])
        assert run["status"] == "completed", run
        body["run"] = run
    return body


async def suggestions(store: Store, **params: Any) -> list[dict[str, Any]]:
    r = await store.admin.get(f"{store.path}/memory-suggestions", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_reflection_suggests_once_and_people_decide(any_live: Live) -> None:
    store = await any_live.new_store("refl")
    agent = await store.agent()  # the offline model
    chat = await store.session(agent["id"])
    await send(store, chat["id"], "Hello! Remember that I prefer short answers.")
    done = await reflect(store, chat["id"])
    assert done["messages"] == 2  # the message and the reply
    assert done["run"]["trigger"] == "reflect"
    assert done["run"]["usage"]["input_tokens"] > 0  # counted like any run's
    [suggestion] = await suggestions(store, agent_id=agent["id"])
    messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    user_message = messages["items"][0]
    assert user_message["kind"] == "user"  # the reflection added no message
    assert len(messages["items"]) == 2
    assert suggestion["content"] == "I prefer short answers"
    assert suggestion["type"] == "preference" and suggestion["status"] == "pending"
    assert suggestion["relation"] == "new" and suggestion["run_id"] == done["run_id"]
    assert suggestion["source_message_ids"] == [user_message["id"]]
    assert suggestion["reason"]
    events = await store.admin.get(
        f"{store.path}/events", params={"types": "memory.suggested", "run_id": done["run_id"]}
    )
    [event] = events.json()["items"]
    assert event["payload"]["suggestion_id"] == suggestion["id"]
    assert event["session_id"] == chat["id"]
    assert await reflect(store, chat["id"]) == {"run_id": None, "messages": 0}  # nothing new

    url = f"{store.path}/memory-suggestions/{suggestion['id']}"
    r = await store.admin.post(f"{url}/approve", json={"importance": 0.9})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"
    memory = (await store.admin.get(f"{store.path}/memories/{r.json()['memory_id']}")).json()
    assert (memory["content"], memory["importance"]) == ("I prefer short answers", 0.9)
    assert memory["source"] == {
        "kind": "suggestion",
        "session_id": chat["id"],
        "run_id": done["run_id"],
        "message_ids": [user_message["id"]],
    }
    r = await store.admin.post(f"{url}/approve", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"

    # a contradiction names the memory, and approving it updates that memory
    await send(store, chat["id"], "Actually, remember that I prefer long answers")
    changed = await reflect(store, chat["id"])
    assert changed["messages"] == 2  # only what came after the first reflection
    [contra] = await suggestions(store, status="pending")
    assert contra["content"] == "I prefer long answers"
    assert (contra["relation"], contra["existing_memory_id"]) == ("contradiction", memory["id"])
    r = await store.admin.post(
        f"{store.path}/memory-suggestions/{contra['id']}/approve",
        json={"content": "I prefer long, detailed answers"},
    )
    assert r.status_code == 200, r.text
    current = (await store.admin.get(f"{store.path}/memories")).json()["items"]
    assert [m["content"] for m in current] == ["I prefer long, detailed answers"]
    everything = (
        await store.admin.get(f"{store.path}/memories", params={"superseded": True})
    ).json()["items"]
    old = next(m for m in everything if m["id"] == memory["id"])
    assert old["superseded_by_id"] == r.json()["memory_id"] and old["superseded_at"]

    # rejected, once
    await send(store, chat["id"], "remember that the office is in Lyon")
    await reflect(store, chat["id"])
    [fact] = await suggestions(store, status="pending")
    assert fact["type"] == "fact"
    reject = f"{store.path}/memory-suggestions/{fact['id']}/reject"
    assert (await store.admin.post(reject)).json()["status"] == "rejected"
    assert (await store.admin.post(reject)).status_code == 409
    assert len(await suggestions(store)) == 3


async def test_suggestions_stay_in_their_store_and_agent(any_live: Live) -> None:
    one, two = await any_live.new_store("refl"), await any_live.new_store("refl")
    agent, other = await one.agent(), await one.agent()
    chat = await one.session(agent["id"])
    await send(one, chat["id"], "remember that the vault code is 1234")
    await reflect(one, chat["id"])
    [suggestion] = await suggestions(one)
    assert await suggestions(one, agent_id=other["id"]) == []
    assert await suggestions(two) == []
    url = f"{two.path}/memory-suggestions/{suggestion['id']}"
    assert (await two.admin.get(url)).status_code == 404
    assert (await two.admin.post(f"{url}/approve", json={})).status_code == 404
    r = await two.admin.post(f"{two.path}/sessions/{chat['id']}/reflect")
    assert r.status_code == 404
    # the other agent's reflection is not shown this agent's memories
    await one.admin.post(f"{one.path}/memory-suggestions/{suggestion['id']}/approve", json={})
    other_chat = await one.session(other["id"])
    await send(one, other_chat["id"], "remember that the vault code is 1234")
    await reflect(one, other_chat["id"])
    [fresh] = await suggestions(one, agent_id=other["id"])
    assert fresh["relation"] == "new" and fresh["existing_memory_id"] is None


async def test_quiet_sessions_are_reflected_on_after_the_agents_idle_time(live: Live) -> None:
    """The sweep's question, asked at a moment after the idle time (no waiting in the test)."""
    store = await live.new_store("refl")
    idle = await store.agent(reflect_idle_s=60)
    never = await store.agent()  # no idle time: only on request
    chat = await store.session(idle["id"])
    other = await store.session(never["id"])
    for session in (chat, other):
        await send(store, session["id"], "remember that I like green tea")
    db = live.app.state.services.db
    now = datetime.now(UTC)
    assert (store.id, chat["id"]) not in await reflection.idle_sessions(db, now)  # not yet
    later = now + timedelta(seconds=61)
    assert (store.id, chat["id"]) in await reflection.idle_sessions(db, later)
    assert (store.id, other["id"]) not in await reflection.idle_sessions(db, later)
    found = dict(await reflection.reflect_idle(db, None, later))
    run_id = found[store.id].run_id
    assert run_id is not None
    await live.app.state.services.runtime.start_admitted(store.id, [run_id])
    await live.app.state.services.runtime.admitter.admit(store.id)
    run = await wait_run(store, run_id)
    assert run["status"] == "completed" and run["trigger"] == "reflect"
    [suggestion] = await suggestions(store, session_id=chat["id"])
    assert suggestion["content"] == "I like green tea"
    assert (store.id, chat["id"]) not in await reflection.idle_sessions(db, later)  # read
