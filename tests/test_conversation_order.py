"""A run reads its session's conversation up to its own message, in order.

Messages queued behind a running one, or sent all at once, each get a run of their own that
answers that message; a later message belongs to the later run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import Live, Store
from tests.llm.fakes import Reply
from tests.scripted import GatedLLM, Hold
from tests.test_runs_providers import fake_chat, wait_run

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

TITLES = [f"SEQQ{i}" for i in range(4)]


async def _post(store: Store, session_id: str, content: str) -> dict[str, Any]:
    r = await store.admin.post(
        f"{store.path}/sessions/{session_id}/messages", json={"content": content}
    )
    assert r.status_code == 202, r.text
    return dict(r.json()["run"])


async def _replies_by_run(store: Store, session_id: str) -> dict[str, str]:
    """Each run's final answer."""
    r = await store.admin.get(f"{store.path}/sessions/{session_id}/messages", params={"limit": 200})
    final: dict[str, str] = {}
    for message in r.json()["items"]:
        if message["kind"] == "assistant" and not message["data"].get("tool_calls"):
            final[message["run_id"]] = message["content"]
    return final


@pytest.mark.parametrize("concurrently", [False, True], ids=["back-to-back", "concurrent"])
async def test_every_queued_message_is_answered_by_its_own_run(
    any_live: Live, concurrently: bool
) -> None:
    store = await any_live.new_store()
    agent = await store.agent(tools=["create_task", "list_tasks"])
    chat = await store.session(agent["id"])
    contents = [f"create a task called {title}" for title in TITLES]
    if concurrently:
        runs = await asyncio.gather(*(_post(store, chat["id"], c) for c in contents))
    else:
        runs = [await _post(store, chat["id"], c) for c in contents]
    for run in runs:
        assert (await wait_run(store, run["id"]))["status"] == "completed"

    tasks = (await store.admin.get(f"{store.path}/tasks")).json()["items"]
    assert sorted(t["title"] for t in tasks) == TITLES
    replies = await _replies_by_run(store, chat["id"])
    messages = (
        await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages", params={"limit": 200})
    ).json()["items"]
    asked = {m["run_id"]: m["content"] for m in messages if m["kind"] == "user"}
    for run in runs:
        title = asked[run["id"]].rsplit(" ", 1)[1]
        assert title in replies[run["id"]], (asked[run["id"]], replies[run["id"]])


def _dialogue(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (m["role"], m["content"]) for m in body["messages"] if m["role"] in ("user", "assistant")
    ]


async def test_a_queued_run_reads_the_conversation_in_order(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    """Three messages arrive while the first run's model call is held: the second run reads
    user 0, reply 0, user 1 — never a message sent after its own."""
    llm, base_url = fake
    first_answer = Hold(Reply(text=["reply 0"]))
    llm.push(first_answer, Reply(text=["reply 1"]), Reply(text=["reply 2"]))
    chat = await fake_chat(store, base_url)
    runs = [await _post(store, chat["id"], "user 0")]
    await llm.wait_for_requests(1)
    runs += [await _post(store, chat["id"], f"user {i}") for i in (1, 2)]
    first_answer.gate.set()
    for run in runs:
        assert (await wait_run(store, run["id"]))["status"] == "completed"

    assert [_dialogue(r.body) for r in llm.requests] == [
        [("user", "user 0")],
        [("user", "user 0"), ("assistant", "reply 0"), ("user", "user 1")],
        [
            ("user", "user 0"),
            ("assistant", "reply 0"),
            ("user", "user 1"),
            ("assistant", "reply 1"),
            ("user", "user 2"),
        ],
    ]
