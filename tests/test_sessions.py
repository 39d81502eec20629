"""Sessions, messages, and the single transaction that accepts a message."""

from __future__ import annotations

import pytest

from tests.conftest import Live, Store

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def test_session_crud_and_newest_first(store: Store) -> None:
    agent = await store.agent()
    first = await store.session(agent["id"], title="first")
    second = await store.session(agent["id"])
    listed = (await store.admin.get(f"{store.path}/sessions")).json()["items"]
    assert [s["id"] for s in listed] == [second["id"], first["id"]]
    url = f"{store.path}/sessions/{first['id']}"
    r = await store.admin.patch(url, json={"title": "renamed"})
    assert r.json()["title"] == "renamed"
    assert (await store.admin.get(url)).json()["title"] == "renamed"
    other_agent = await store.agent()
    await store.session(other_agent["id"])
    r = await store.admin.get(f"{store.path}/sessions", params={"agent_id": agent["id"]})
    assert len(r.json()["items"]) == 2


async def test_session_for_missing_agent_is_404(store: Store) -> None:
    r = await store.admin.post(f"{store.path}/sessions", json={"agent_id": "agt_missing"})
    assert r.status_code == 404


async def test_send_message_records_message_event_and_queued_run(store: Store) -> None:
    agent = await store.agent()
    chat = await store.session(agent["id"])
    url = f"{store.path}/sessions/{chat['id']}/messages"
    r = await store.admin.post(url, json={"content": "hello there"})
    assert r.status_code == 202
    sent = r.json()
    assert sent["message"]["content"] == "hello there"
    assert sent["message"]["kind"] == "user"
    run = sent["run"]
    assert run["status"] in {"queued", "running", "completed"}
    assert run["session_id"] == chat["id"] and run["agent_id"] == agent["id"]
    messages = (await store.admin.get(url)).json()["items"]
    assert messages[0]["id"] == sent["message"]["id"]
    events = (
        await store.admin.get(f"{store.path}/events", params={"session_id": chat["id"]})
    ).json()["items"]
    types = [e["type"] for e in events]
    assert types[:3] == ["session.created", "chat.message_sent", "run.queued"]
    assert events[1]["run_id"] == run["id"]
    assert events[1]["payload"]["message_id"] == sent["message"]["id"]
    r = await store.admin.get(f"{store.path}/runs/{run['id']}")
    assert r.json()["id"] == run["id"]
    r = await store.admin.get(f"{store.path}/runs", params={"session_id": chat["id"]})
    assert [x["id"] for x in r.json()["items"]] == [run["id"]]


async def test_empty_and_oversized_messages_are_refused(store: Store) -> None:
    agent = await store.agent()
    chat = await store.session(agent["id"])
    url = f"{store.path}/sessions/{chat['id']}/messages"
    assert (await store.admin.post(url, json={"content": ""})).status_code == 422
    assert (await store.admin.post(url, json={"content": "x" * 100_001})).status_code == 422
    assert (
        await store.admin.post(url, json={"content": "hi", "priority": "urgent"})
    ).status_code == 422
    assert (await store.admin.get(url)).json()["items"] == []


async def test_disabled_agent_refuses_messages(store: Store) -> None:
    agent = await store.agent(status="disabled")
    chat = await store.session(agent["id"])
    r = await store.admin.post(
        f"{store.path}/sessions/{chat['id']}/messages", json={"content": "hi"}
    )
    assert r.status_code == 409


async def test_delete_session_cascades(live: Live, store: Store) -> None:
    agent = await store.agent()
    chat = await store.session(agent["id"])
    sent = (
        await store.admin.post(
            f"{store.path}/sessions/{chat['id']}/messages", json={"content": "hi"}
        )
    ).json()
    assert (await store.admin.delete(f"{store.path}/sessions/{chat['id']}")).status_code == 204
    assert (await store.admin.get(f"{store.path}/sessions/{chat['id']}")).status_code == 404
    assert (await store.admin.get(f"{store.path}/runs/{sent['run']['id']}")).status_code == 404
    r = await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")
    assert r.status_code == 404
