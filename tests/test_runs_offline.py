"""Runs end to end on the offline model: the loop, tools, persisted messages and events."""

from __future__ import annotations

from typing import Any

from tests.conftest import Live, Store
from tests.sse import frames

SSE = {"Accept": "text/event-stream"}
ALL_BUILTIN = [
    "create_task",
    "list_tasks",
    "create_project",
    "list_projects",
    "search_documents",
    "create_document",
]


async def send(store: Store, session_id: str, content: str, **extra: Any) -> dict[str, Any]:
    r = await store.admin.post(
        f"{store.path}/sessions/{session_id}/messages",
        json={"content": content, "wait": True, **extra},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_offline_agent_creates_a_task_through_the_loop(any_live: Live) -> None:
    """On SQLite in this process and on PostgreSQL in a server process of its own."""
    store = await any_live.new_store()
    agent = await store.agent(tools=ALL_BUILTIN)
    chat = await store.session(agent["id"])
    sent = await send(store, chat["id"], "Create a task called Buy milk in project Home")
    run = sent["run"]
    assert (run["status"], run["stop_reason"]) == ("completed", "final_answer")
    assert run["steps"] == 2
    assert run["usage"]["input_tokens"] > 0 and run["usage"]["output_tokens"] > 0

    messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    kinds = [m["kind"] for m in messages["items"]]
    assert kinds == ["user", "assistant", "tool_result", "assistant"]
    for message in messages["items"]:
        if message["kind"] == "assistant":
            assert message["provider"] == "offline" and message["model"] == "default"
            assert message["usage"]["output_tokens"] > 0
            assert message["latency_ms"] is not None
    call = messages["items"][1]["data"]["tool_calls"][0]
    assert call["name"] == "create_task"
    assert call["arguments"]["title"] == "Buy milk"
    final = messages["items"][3]["content"]
    assert final.startswith("[offline]") and "Buy milk" in final

    events = (await store.admin.get(f"{store.path}/events", params={"run_id": run["id"]})).json()[
        "items"
    ]
    types = [e["type"] for e in events]
    for expected in (
        "chat.message_sent",
        "run.queued",
        "run.started",
        "llm.response_received",
        "tool.executing",
        "task.created",
        "tool.completed",
        "run.completed",
    ):
        assert expected in types, (expected, types)
    assert types.index("run.started") < types.index("tool.executing") < types.index("task.created")
    assert (
        types.index("task.created") < types.index("tool.completed") < types.index("run.completed")
    )

    steps = (await store.admin.get(f"{store.path}/runs/{run['id']}/steps")).json()["items"]
    assert [s["index"] for s in steps] == [0, 1]
    assert steps[0]["tool_calls"][0]["name"] == "create_task"


async def test_offline_lists_projects_and_answers_without_tools(store: Store) -> None:
    agent = await store.agent(tools=ALL_BUILTIN)
    chat = await store.session(agent["id"])
    await send(store, chat["id"], "create a project called Garden")
    sent = await send(store, chat["id"], "what projects do I have?")
    messages = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    assert "Garden" in messages["items"][-1]["content"]
    assert sent["run"]["status"] == "completed"
    plain = await send(store, chat["id"], "hello!")
    last = (await store.admin.get(f"{store.path}/sessions/{chat['id']}/messages")).json()
    assert plain["run"]["steps"] == 1
    assert last["items"][-1]["content"].startswith("[offline]")


async def test_run_streams_deltas_and_final_events_over_sse(store: Store) -> None:
    agent = await store.agent(tools=ALL_BUILTIN)
    chat = await store.session(agent["id"])
    params = {"session_id": chat["id"]}
    async with store.admin.stream(
        "GET", f"{store.path}/events", params=params, headers=SSE
    ) as response:
        stream = frames(response)
        first = await anext(stream)
        assert first.event == "session.created"
        r = await store.admin.post(
            f"{store.path}/sessions/{chat['id']}/messages", json={"content": "hello there"}
        )
        assert r.status_code == 202
        seen: list[tuple[str | None, str | None]] = []
        async for frame in stream:
            seen.append((frame.event, frame.id))
            if frame.event == "run.completed":
                break
    deltas = [i for e, i in seen if e == "llm.text_delta"]
    assert deltas and all(i is None for i in deltas)  # ephemeral: no seq, not resumable
    persisted = [e for e, i in seen if i is not None]
    assert persisted[:2] == ["chat.message_sent", "run.queued"]
    assert "llm.response_received" in persisted


async def test_tool_refusals_and_bad_arguments_reach_the_model(store: Store) -> None:
    # create_task is not assigned: the offline model does not even see it, so it answers in text.
    agent = await store.agent(tools=["list_tasks"])
    chat = await store.session(agent["id"])
    sent = await send(store, chat["id"], "create a task called Nope")
    assert sent["run"]["status"] == "completed"
    tasks = (await store.admin.get(f"{store.path}/events", params={"types": "task.created"})).json()
    assert tasks["items"] == []


async def test_a_final_answer_commits_with_the_runs_completion(live: Live) -> None:
    """The last model step's reply and ``run.completed`` are one transaction: a crash can
    never leave a run whose answer is saved but which is still running."""
    from loopwright.domain.events import Event
    from loopwright.runtime import services

    db = services.current().db
    commits: list[list[str]] = []

    def record(events: Any) -> None:
        batch: list[Event] = list(events)
        commits.append([f"{e.run_id}:{e.type}" for e in batch])

    db.on_commit(record)
    try:
        store = await live.new_store()
        agent = await store.agent(tools=ALL_BUILTIN)
        chat = await store.session(agent["id"])
        run = (await send(store, chat["id"], "what projects do I have?"))["run"]
    finally:
        db._commit_hooks.remove(record)
    ours = [c for c in commits if any(t.startswith(run["id"]) for t in c)]
    assert [f"{run['id']}:llm.response_received", f"{run['id']}:run.completed"] in ours
    assert sum(f"{run['id']}:run.completed" in c for c in ours) == 1
