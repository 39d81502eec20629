"""Long-term memories in runs, on both databases: the most relevant memories the agent may see
reach the model's context within its budget, their accesses are counted once, and the first
step records which were chosen and why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import Live, Store, make_settings, new_pg_database
from tests.fake_embeddings import embeddings_app
from tests.llm.fakes import Reply, ToolCall, serve
from tests.procs import OPERATOR_KEY, STARTED, ServerProcess
from tests.scripted import GatedLLM, tool_messages
from tests.test_memory import remember
from tests.test_runs_providers import provider, send

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

if TYPE_CHECKING:
    from tests.event_audit import EventAudit


@pytest.fixture(scope="module")
async def memory_pg(
    tmp_path_factory: pytest.TempPathFactory, event_audit: EventAudit
) -> AsyncIterator[Live]:
    """A PostgreSQL server process for this module that may reach the fake model."""
    with new_pg_database() as url:
        data_dir = tmp_path_factory.mktemp("memory-pg")
        env = {"LOOPWRIGHT_DATABASE_URL": url, "LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32"}
        server = ServerProcess(data_dir, env)
        await server.start()
        STARTED.remove(server)  # lives for the module, stopped below
        operator = httpx.AsyncClient(
            base_url=server.base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
        )
        try:
            yield Live(server.base_url, make_settings(data_dir, url), None, operator)
        finally:
            await operator.aclose()
            await server.stop()
            await event_audit.read_log(url, "memory_pg")


@pytest.fixture(params=["sqlite", "postgresql"])
def both(request: pytest.FixtureRequest) -> Live:
    found: Live = request.getfixturevalue("live" if request.param == "sqlite" else "memory_pg")
    return found


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(
        str(m["content"]) for m in body["messages"] if m["role"] in ("system", "developer")
    )


async def steps(store: Store, run_id: str) -> list[dict[str, Any]]:
    r = await store.admin.get(f"{store.path}/runs/{run_id}/steps")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_relevant_memories_reach_the_context(both: Live, fake: tuple[GatedLLM, str]) -> None:
    llm, base_url = fake
    store, other_store = await both.new_store("mem"), await both.new_store("mem")
    await provider(store, base_url)
    agent = await store.agent(model="fake:gpt-test", memory=True, memory_budget_tokens=60)
    other = await store.agent()
    cat = await remember(store, agent["id"], "The user's cat is called Miso", importance=0.9)
    await remember(store, agent["id"], "The quarterly budget is ten thousand euros")
    style = await remember(store, other["id"], "Answer briefly", type="preference", shared=True)
    await remember(store, other["id"], "The user's cat is called Rex")  # not shared
    foreign = await other_store.agent()
    await remember(other_store, foreign["id"], "The user's cat is called Tom", shared=True)
    chat = await store.session(agent["id"])
    llm.push(Reply(text=["Miso."]), Reply(text=["Still Miso."]))
    run = await send(store, chat["id"], "What is my cat called?")
    assert run["status"] == "completed", run
    context = system_text(llm.requests[0].body)
    assert "Miso" in context and "Answer briefly" in context
    assert "Rex" not in context and "Tom" not in context and "budget" not in context
    first = (await steps(store, run["id"]))[0]
    chosen = {m["memory_id"]: m for m in first["memories"]}
    assert list(chosen) == [cat["id"], style["id"]]  # the relevant one first
    assert chosen[cat["id"]]["relevance"] == 1.0 and chosen[cat["id"]]["score"] > 0
    assert chosen[style["id"]]["relevance"] < 1.0
    r = await store.admin.get(f"{store.path}/memories/{cat['id']}")
    assert r.json()["access_count"] == 1 and r.json()["last_accessed_at"] is not None
    # a second run chooses again, for its own message
    run = await send(store, chat["id"], "Tell me about the cat again")
    assert (await steps(store, run["id"]))[0]["memories"][0]["memory_id"] == cat["id"]
    r = await store.admin.get(f"{store.path}/memories/{cat['id']}")
    assert r.json()["access_count"] == 2


async def test_budget_and_memory_off(store: Store, fake: tuple[GatedLLM, str]) -> None:
    llm, base_url = fake
    await provider(store, base_url)
    agent = await store.agent(model="fake:gpt-test", memory=True, memory_budget_tokens=12)
    small = await remember(store, agent["id"], "Project Atlas ships in May", importance=1.0)
    await remember(store, agent["id"], "Project Atlas has a long history " + "x" * 200)
    chat = await store.session(agent["id"])
    llm.push(Reply(text=["May."]))
    run = await send(store, chat["id"], "When does project Atlas ship?")
    memories = (await steps(store, run["id"]))[0]["memories"]
    assert [m["memory_id"] for m in memories] == [small["id"]]  # the other one does not fit
    assert sum(m["tokens"] for m in memories) <= 12
    plain = await store.agent(model="fake:gpt-test")  # memory off: none given
    await remember(store, plain["id"], "Project Atlas ships in May")
    chat = await store.session(plain["id"])
    llm.push(Reply(text=["?"]))
    run = await send(store, chat["id"], "When does project Atlas ship?")
    assert "Atlas" not in system_text(llm.requests[-1].body)
    assert (await steps(store, run["id"]))[0]["memories"] is None


async def test_remember_and_recall_tools(both: Live, fake: tuple[GatedLLM, str]) -> None:
    llm, base_url = fake
    store = await both.new_store("mem")
    await provider(store, base_url)
    agent = await store.agent(model="fake:gpt-test", tools=["remember", "recall"])
    other = await store.agent()
    await remember(store, other["id"], "Invoices are due on the 5th")  # another agent's
    chat = await store.session(agent["id"])
    args = {"content": "Invoices go to billing@example.com", "type": "fact", "importance": 0.8}
    llm.push(
        Reply(tool_calls=[ToolCall("remember", args, id="r1")]),
        Reply(
            tool_calls=[
                ToolCall(
                    "remember", {**args, "content": "invoices GO to billing@example.com"}, id="r2"
                )
            ]
        ),
        Reply(text=["Noted."]),
    )
    run = await send(store, chat["id"], "Remember that invoices go to billing@example.com")
    assert run["status"] == "completed", run
    results = {
        m["tool_call_id"]: json.loads(m["content"]) for m in tool_messages(llm.requests[2].body)
    }
    assert results["r2"]["saved"] is False  # the same memory, not a second one
    r = await store.admin.get(f"{store.path}/memories", params={"agent_id": agent["id"]})
    [saved] = r.json()["items"]
    assert saved["content"] == args["content"] and saved["importance"] == 0.8
    assert saved["source"]["kind"] == "tool" and saved["source"]["run_id"] == run["id"]
    assert saved["source"]["session_id"] == chat["id"]
    llm.push(
        Reply(tool_calls=[ToolCall("recall", {"query": "where do invoices go"}, id="c1")]),
        Reply(text=["billing"]),
    )
    run = await send(store, chat["id"], "Where do invoices go?")
    result = tool_messages(llm.requests[-1].body)[-1]
    found = json.loads(result["content"])["memories"]
    assert [m["content"] for m in found] == [args["content"]]  # not the other agent's
    tools = (await store.admin.get(f"{store.path}/tools")).json()["items"]
    flags = {t["name"]: t["read_only"] for t in tools if t["name"] in ("remember", "recall")}
    assert flags == {"remember": False, "recall": True}


async def test_hybrid_retrieval_with_an_embedding_model(
    both: Live, fake: tuple[GatedLLM, str]
) -> None:
    """ "cat" shares no word with "kitten": full-text alone misses it, hybrid finds it."""
    llm, base_url = fake
    calls: list[Sequence[str]] = []
    store = await both.new_store("mem")
    await provider(store, base_url)
    agent = await store.agent(model="fake:gpt-test", memory=True)
    kitten = await remember(store, agent["id"], "The user adopted a kitten named Miso")
    await remember(store, agent["id"], "The user's car is a red sedan")
    chat = await store.session(agent["id"])
    llm.push(Reply(text=["?"]))
    run = await send(store, chat["id"], "What is my cat called?")
    assert (await steps(store, run["id"]))[0]["memories"] == []  # full-text only: no match
    settings = f"{store.path}/memory-settings"
    r = await store.admin.put(settings, json={"embedding_model": "nope:m"})
    assert r.status_code == 422, r.text
    async with serve(embeddings_app(calls)) as embed_url:
        r = await store.admin.post(
            f"{store.path}/providers",
            json={"name": "emb", "kind": "openai", "base_url": f"{embed_url}/v1"},
        )
        assert r.status_code == 201, r.text
        r = await store.admin.put(settings, json={"embedding_model": "emb:fake-embed"})
        assert r.status_code == 200, r.text
        assert (await store.admin.get(settings)).json() == {"embedding_model": "emb:fake-embed"}
        llm.push(Reply(text=["Miso."]))
        run = await send(store, chat["id"], "What is my cat called?")
    [chosen] = (await steps(store, run["id"]))[0]["memories"]
    assert chosen["memory_id"] == kitten["id"] and 0 < chosen["relevance"] < 1
    assert "Miso" in system_text(llm.requests[-1].body)
    assert sorted(len(c) for c in calls) == [1, 2]  # the two memories once, then the message
