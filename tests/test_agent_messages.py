"""Agents messaging agents: ``send_message`` puts a message in another agent's mailbox (a run
with trigger ``agent`` and the message's priority, in the mailbox session for that sender) or
waits for its answer; a run's fan-out and a chain's depth are bounded; the mailbox API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopwright.runtime.agent_messages import _refusal
from tests.conftest import Live, Store, make_settings
from tests.llm.fakes import Reply, ToolCall
from tests.procs import OPERATOR_KEY, ServerProcess
from tests.scripted import GatedLLM

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL


async def boss(store: Store, model_url: str) -> dict[str, Any]:
    r = await store.admin.post(
        f"{store.path}/providers",
        json={"name": "fake", "kind": "openai", "base_url": f"{model_url}/v1", "api_key": "k"},
    )
    assert r.status_code == 201, r.text
    return await store.agent(name="boss", model="fake:m", tools=["send_message"])


async def run(store: Store, agent_id: str) -> dict[str, Any]:
    chat = await store.session(agent_id)
    r = await store.admin.post(
        f"{store.path}/sessions/{chat['id']}/messages", json={"content": "go", "wait": True}
    )
    assert r.status_code == 200, r.text
    return dict(r.json()["run"])


def send(agent: str, message: str, call_id: str, **extra: Any) -> ToolCall:
    return ToolCall("send_message", {"agent": agent, "message": message, **extra}, id=call_id)


async def runs_of(store: Store, agent_id: str, count: int) -> list[dict[str, Any]]:
    for _ in range(300):
        items = (await store.admin.get(f"{store.path}/runs", params={"limit": 200})).json()
        mine = [r for r in items["items"] if r["agent_id"] == agent_id]
        if len(mine) >= count and all(r["status"] == "completed" for r in mine):
            return mine
        await asyncio.sleep(0.1)  # polling runs as a client would
    raise AssertionError(f"runs of {agent_id}: {mine}")


async def test_send_message_to_a_mailbox_and_wait_for_an_answer(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    sender = await boss(store, model_url)
    kid = await store.agent(name="kid")  # the offline model
    llm.push(
        Reply(
            tool_calls=[
                send("kid", "low one", "c1", priority="low"),
                send("kid", "urgent one", "c2", priority="critical"),
            ]
        ),
        Reply(tool_calls=[send("kid", "what is 2+2?", "c3", wait=True)]),
        Reply(text=["all sent"]),
    )
    done = await run(store, sender["id"])
    assert done["status"] == "completed", done
    kids = await runs_of(store, kid["id"], 3)
    by_priority = {r["priority"]: r for r in kids}
    assert {r["trigger"] for r in kids} == {"agent", "child"}
    assert by_priority["critical"]["trigger"] == "agent"
    assert by_priority["low"]["session_id"] == by_priority["critical"]["session_id"]  # mailbox
    waited = [r for r in kids if r["parent_run_id"] == done["id"]]
    assert len(waited) == 1  # wait=true: a child run whose answer came back
    results = [m for m in llm.requests[-1].body["messages"] if m["role"] == "tool"]
    assert any("run_id" in m["content"] for m in results)


@pytest.fixture
async def fanout_live(tmp_path: Path) -> AsyncIterator[Live]:
    """A server process whose runs may send 2 messages each (and whose tool rate limit is
    high); a process of its own, as DBOS is one per process."""
    server = ServerProcess(
        tmp_path,
        {
            "LOOPWRIGHT_AGENT_MESSAGE_FANOUT": "2",
            "LOOPWRIGHT_TOOL_CALLS_PER_MIN": "100",
            "LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32",
        },
    )
    await server.start()
    operator = httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30
    )
    try:
        yield Live(
            base_url=server.base_url, settings=make_settings(tmp_path), app=None, http=operator
        )
    finally:
        await operator.aclose()
        await server.stop()


async def test_a_run_sends_at_most_its_fan_out(
    fanout_live: Live, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    store = await fanout_live.new_store()
    sender = await boss(store, model_url)
    kid = await store.agent(name="kid")
    calls = [send("kid", f"n{i}", f"f{i}") for i in range(4)]
    llm.push(Reply(tool_calls=calls), Reply(text=["ok"]))
    done = await run(store, sender["id"])
    assert done["status"] == "completed"
    await runs_of(store, kid["id"], 2)
    audit = await store.admin.get(f"{store.path}/tool-calls", params={"run_id": done["id"]})
    outcomes = sorted(c["outcome"] for c in audit.json()["items"])
    assert outcomes == ["error", "error", "ok", "ok"]
    items = (await store.admin.get(f"{store.path}/runs", params={"limit": 200})).json()["items"]
    assert len([r for r in items if r["agent_id"] == kid["id"]]) == 2


def test_chains_stop_at_their_depth() -> None:
    assert _refusal(depth=4, sent=0, max_depth=4, fanout=10) is None
    assert "too deep" in (_refusal(depth=5, sent=0, max_depth=4, fanout=10) or "")
    assert "limit per run" in (_refusal(depth=1, sent=10, max_depth=4, fanout=10) or "")


async def test_the_mailbox_api(store: Store) -> None:
    kid = await store.agent(name="kid")
    path = f"{store.path}/agents/{kid['id']}/mailbox"
    first = await store.admin.post(path, json={"content": "one", "priority": "high"})
    second = await store.admin.post(path, json={"content": "two"})
    assert first.status_code == second.status_code == 202, first.text
    one, two = first.json()["run"], second.json()["run"]
    assert one["session_id"] == two["session_id"] and one["priority"] == "high"
    other = await store.live.new_store()
    r = await other.admin.post(path.replace(store.path, other.path), json={"content": "x"})
    assert r.status_code == 404


async def test_messages_sent_at_once_to_a_new_mailbox_share_its_session(store: Store) -> None:
    """The first messages of a sender, all at once: one mailbox, one session (on PostgreSQL the
    mailbox's making is serialized; reading then inserting raced and failed all but one)."""
    kid = await store.agent(name="twin")
    path = f"{store.path}/agents/{kid['id']}/mailbox"
    sent = await asyncio.gather(
        *[store.admin.post(path, json={"content": f"message {i}"}) for i in range(6)]
    )
    assert [r.status_code for r in sent] == [202] * 6, [r.text for r in sent]
    assert len({r.json()["run"]["session_id"] for r in sent}) == 1
