"""Long-term memories over HTTP on both databases: CRUD, filters, stemmed search, validation,
store-shared memories, and isolation between agents and stores."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loopwright.tools.builtin_handlers import excerpt
from tests.conftest import Live, Store

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


@pytest.fixture
async def any_store(any_live: Live) -> Store:
    return await any_live.new_store("mem")


async def remember(store: Store, agent_id: str, content: str, **fields: Any) -> dict[str, Any]:
    body = {"agent_id": agent_id, "content": content, **fields}
    r = await store.admin.post(f"{store.path}/memories", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def listed(store: Store, **params: Any) -> list[str]:
    r = await store.admin.get(f"{store.path}/memories", params=params)
    assert r.status_code == 200, r.text
    return [m["content"] for m in r.json()["items"]]


async def test_memory_crud(any_store: Store) -> None:
    store = any_store
    agent = await store.agent()
    memory = await remember(store, agent["id"], "  Prefers short answers ", type="preference")
    assert memory["content"] == "Prefers short answers" and memory["type"] == "preference"
    assert memory["importance"] == 0.5 and memory["access_count"] == 0
    assert memory["shared"] is False and memory["last_accessed_at"] is None
    assert memory["source"] == {
        "kind": "manual",
        "session_id": None,
        "run_id": None,
        "message_ids": [],
    }
    url = f"{store.path}/memories/{memory['id']}"
    assert (await store.admin.get(url)).json() == memory
    r = await store.admin.patch(url, json={"importance": 0.9, "content": "Likes brevity"})
    assert r.status_code == 200, r.text
    assert r.json()["importance"] == 0.9 and r.json()["content"] == "Likes brevity"
    assert (await store.admin.delete(url)).status_code == 204
    assert (await store.admin.get(url)).status_code == 404
    assert (await store.admin.delete(url)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 4001}, "content"),
        ({"importance": 1.5}, "importance"),
        ({"importance": -0.1}, "importance"),
        ({"type": "opinion"}, "type"),
        ({"shared": "yes"}, "shared"),
    ],
)
async def test_bad_memories_are_422(store: Store, body: dict[str, Any], field: str) -> None:
    agent = await store.agent()
    full = {"agent_id": agent["id"], "content": "ok", **body}
    r = await store.admin.post(f"{store.path}/memories", json=full)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    assert field in r.text
    memory = await remember(store, agent["id"], "ok")
    r = await store.admin.patch(f"{store.path}/memories/{memory['id']}", json=body)
    assert r.status_code == 422, r.text


async def test_unknown_agent_is_404(store: Store, live: Live) -> None:
    r = await store.admin.post(f"{store.path}/memories", json={"agent_id": "agt_x", "content": "a"})
    assert r.status_code == 404
    other = await live.new_store()
    foreign = await other.agent()
    body = {"agent_id": foreign["id"], "content": "a"}
    assert (await store.admin.post(f"{store.path}/memories", json=body)).status_code == 404


async def test_filters_and_stemmed_search(any_store: Store) -> None:
    store = any_store
    a, b = await store.agent(), await store.agent()
    await remember(store, a["id"], "Invoice March was paid late", type="fact")
    await remember(store, a["id"], "Always answer in French", type="instruction")
    await remember(store, b["id"], "The invoices of B go to accounting", type="fact")
    await remember(store, b["id"], "Company style: no emojis", type="instruction", shared=True)
    assert await listed(store, agent_id=a["id"], type="fact") == ["Invoice March was paid late"]
    assert await listed(store, agent_id=a["id"], q="invoices") == ["Invoice March was paid late"]
    assert await listed(store, q="INVOICES") == [
        "The invoices of B go to accounting",
        "Invoice March was paid late",
    ]
    assert await listed(store, q="accounts") == ["The invoices of B go to accounting"]
    assert await listed(store, q="emoj") == ["Company style: no emojis"]  # a substring
    assert await listed(store, agent_id=a["id"], type="instruction") == [
        "Company style: no emojis",  # shared store-wide
        "Always answer in French",
    ]
    assert await listed(store, q="nothing like it") == []
    assert (
        await store.admin.get(f"{store.path}/memories", params={"type": "x"})
    ).status_code == 422


async def test_isolation_between_stores(any_live: Live) -> None:
    one, two = await any_live.new_store("mem"), await any_live.new_store("mem")
    agent = await one.agent()
    memory = await remember(one, agent["id"], "The vault code is 1234", shared=True)
    assert await listed(two, q="vault") == []
    assert await listed(two) == []
    assert (await two.admin.get(f"{two.path}/memories/{memory['id']}")).status_code == 404
    assert (await two.admin.delete(f"{two.path}/memories/{memory['id']}")).status_code == 404
    assert await listed(one, q="vault") == ["The vault code is 1234"]


async def test_reader_may_list_but_not_write(store: Store) -> None:
    agent = await store.agent()
    reader = store.live.client(await store.key("readonly"))
    async with reader:
        assert (await reader.get(f"{store.path}/memories")).status_code == 200
        body = {"agent_id": agent["id"], "content": "x"}
        assert (await reader.post(f"{store.path}/memories", json=body)).status_code == 403


async def test_documents_are_found_by_stem(any_store: Store) -> None:
    """ "search documents for invoices" finds "Invoice March" (it did not as a substring)."""
    store = any_store
    r = await store.admin.post(f"{store.path}/documents", json={"title": "Invoice March"})
    assert r.status_code == 201, r.text
    await store.admin.post(f"{store.path}/tasks", json={"title": "Running the reports"})
    await store.admin.post(
        f"{store.path}/projects", json={"name": "Billing", "description": "Monthly invoicing"}
    )
    docs = (await store.admin.get(f"{store.path}/documents", params={"q": "invoices"})).json()
    assert [d["title"] for d in docs["items"]] == ["Invoice March"]
    tasks = (await store.admin.get(f"{store.path}/tasks", params={"q": "run report"})).json()
    assert [t["title"] for t in tasks["items"]] == ["Running the reports"]
    projects = (await store.admin.get(f"{store.path}/projects", params={"q": "invoice"})).json()
    assert [p["name"] for p in projects["items"]] == ["Billing"]
    r = await store.admin.patch(
        f"{store.path}/documents/{docs['items'][0]['id']}", json={"title": "Receipt"}
    )
    assert r.status_code == 200
    docs = (await store.admin.get(f"{store.path}/documents", params={"q": "invoices"})).json()
    assert docs["items"] == []  # the index follows updates


async def test_search_documents_for_invoices_finds_invoice_march(any_store: Store) -> None:
    """The request the issue tried as a new user would, through the offline model's tool."""
    store = any_store
    body = {"title": "Invoice March", "content": "x" * 300 + " The March invoice is paid."}
    assert (await store.admin.post(f"{store.path}/documents", json=body)).status_code == 201
    agent = await store.agent(tools=["search_documents"])
    chat = await store.session(agent["id"])
    r = await store.admin.post(
        f"{store.path}/sessions/{chat['id']}/messages",
        json={"content": "search documents for invoices", "wait": True},
    )
    assert r.status_code == 200 and r.json()["run"]["status"] == "completed", r.text
    messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    [result] = [json.dumps(m) for m in messages["items"] if m["kind"] == "tool_result"]
    assert "Invoice March" in result
    assert "March invoice is paid" in result  # the excerpt around the word form


def test_excerpt_around_a_word_form() -> None:
    text = "x" * 300 + " The March invoice was paid. " + "y" * 300
    assert "The March invoice" in excerpt(text, "invoices")
    assert excerpt(text, "nothing").startswith("xxx")


async def test_the_offline_model_remembers_and_recalls(any_store: Store) -> None:
    store = any_store
    agent = await store.agent(tools=["remember", "recall"])
    chat = await store.session(agent["id"])

    async def say(content: str) -> str:
        r = await store.admin.post(
            f"{store.path}/sessions/{chat['id']}/messages",
            json={"content": content, "wait": True},
        )
        assert r.status_code == 200 and r.json()["run"]["status"] == "completed", r.text
        messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
        return str(messages["items"][-1]["content"])

    assert "I will remember: my cat is called Miso" in await say(
        "Please remember that my cat is called Miso."
    )
    assert await listed(store, agent_id=agent["id"]) == ["my cat is called Miso"]
    assert "I remember: my cat is called Miso" in await say("What do you know about my cat?")
