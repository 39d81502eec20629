"""The Python client against a real server: typed calls, errors, pages, and event streams that
resume after a dropped connection."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path

import pytest

from loopwright.client import (
    AsyncClient,
    Client,
    Conflict,
    Event,
    NotFound,
    Unauthenticated,
    UnknownEvent,
    ValidationFailed,
    parse_event,
)
from loopwright.domain.public_events import RunCompletedEvent, ToolCompletedEvent
from tests.conftest import Store
from tests.llm.fakes import Reply, ToolCall
from tests.scripted import GatedLLM, Hold
from tests.tcp_proxy import proxy_to

ROOT = Path(__file__).resolve().parent.parent
SITE = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
"""Where httpx and pydantic are installed (the wheel is tested without ``src`` on the path)."""
SERVER_SIDE = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "dbos",
    "uvicorn",
    "sse_starlette",
    "pydantic_ai",
    "mcp",
    "typer",
    "rich",
    "cryptography",
)


def test_client_imports_without_the_server_dependencies() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        BLOCKED = {SERVER_SIDE!r}
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError("blocked: " + name)
                return None
        sys.meta_path.insert(0, Block())
        from loopwright.client import AsyncClient, Client
        from loopwright.client.events import parse_event
        SERVER = ("loopwright.server", "loopwright.db", "loopwright.runtime")
        loaded = sorted(m for m in sys.modules
                        if m.split(".")[0] in BLOCKED or m.startswith(SERVER))
        assert not loaded, loaded
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_sync_client_is_generated_from_the_async_one() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/unasync_client.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_unknown_event_types_parse_generically() -> None:
    data = (
        '{"seq": 9, "type": "approval.escalated", "session_id": null, "run_id": "run_1",'
        ' "created_at": "2026-01-01T00:00:00Z", "payload": {"approval_id": "a1"}}'
    )
    event = parse_event(data)
    assert isinstance(event, UnknownEvent)
    assert event.type == "approval.escalated" and event.payload == {"approval_id": "a1"}


async def admin_key(store: Store) -> str:
    return await store.key("admin")


async def test_async_client_covers_agents_sessions_runs_and_errors(store: Store) -> None:
    key = await admin_key(store)
    async with AsyncClient(store.live.base_url, key) as lw:
        assert (await lw.me()).store_id == store.id
        created = [await lw.agents.create(name=f"bot-{i}", tools=["create_task"]) for i in range(3)]
        page = await lw.agents.list(limit=1)
        assert len(page.items) == 1 and page.next_cursor
        every = [a.id async for a in lw.paginate(lw.agents.list, limit=1)]
        assert sorted(every) == sorted(a.id for a in created)
        agent = await lw.agents.update(created[0].id, description="helps")
        assert agent.description == "helps"
        assert (await lw.agents.find("bot-1")) == created[1]
        assert await lw.agents.find("nobody") is None

        with pytest.raises(Conflict) as conflict:
            await lw.agents.create(name="bot-0")
        assert conflict.value.status == 409 and conflict.value.code == "conflict"
        with pytest.raises(ValidationFailed) as invalid:
            await lw.agents.create(name="x", max_steps=0)
        assert invalid.value.code == "validation_error" and invalid.value.details
        with pytest.raises(NotFound) as missing:
            await lw.runs.get("run_nope")
        assert missing.value.code == "not_found" and missing.value.message

        session = await lw.sessions.create(agent.id, title="t")
        sent = await lw.sessions.send(session.id, "create a task called Buy milk", wait=True)
        assert sent.run.status == "completed" and sent.run.finished
        runs = await lw.runs.list(session_id=session.id)
        assert [r.id for r in runs.items] == [sent.run.id]
        assert (await lw.runs.steps(sent.run.id)).items
        messages = await lw.sessions.messages(session.id)
        assert messages.items[0].content == "create a task called Buy milk"
        assert [t.title for t in (await lw.tasks.list()).items] == ["Buy milk"]
        page_of_events = await lw.events.list(run_id=sent.run.id)
        assert page_of_events.items[-1].type == "run.completed"
        await lw.agents.delete(created[2].id)
        with pytest.raises(NotFound):
            await lw.agents.get(created[2].id)
    async with AsyncClient(store.live.base_url, "lw_wrong") as stranger:
        with pytest.raises(Unauthenticated) as unauthenticated:
            await stranger.agents.list()
        assert unauthenticated.value.code == "unauthenticated"


async def test_sync_client_streams_a_run_until_it_ends(store: Store) -> None:
    key = await admin_key(store)

    def chat() -> tuple[list[Event], str]:
        with Client(store.live.base_url, key) as lw:
            agent = lw.agents.create(name="syncbot", tools=["create_task"])
            session = lw.sessions.create(agent.id)
            events = list(lw.sessions.send(session.id, "create a task called Tea", stream=True))
            return events, session.id

    events, _ = await asyncio.to_thread(chat)
    types = [e.type for e in events]
    assert types[0] == "chat.message_sent" and types[-1] == "run.completed"
    assert "tool.executing" in types and "task.created" in types
    assert any(isinstance(e, ToolCompletedEvent) for e in events)
    assert isinstance(events[-1], RunCompletedEvent)


async def test_a_cut_connection_resumes_with_every_event_once_in_order(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    key = await admin_key(store)
    second = Hold(Reply(text=["All ", "done ", "now"]))
    llm.push(
        Reply(text=["Adding ", "it"], tool_calls=[ToolCall("create_task", {"title": "Milk"})]),
        second,
    )
    direct = AsyncClient(store.live.base_url, key)
    await direct.providers.create("fake", "openai", base_url=f"{model_url}/v1", api_key="k")
    agent = await direct.agents.create(name="cut", model="fake:m", tools=["create_task"])
    session = await direct.sessions.create(agent.id)
    seen: list[Event] = []
    async with proxy_to(store.live.base_url) as proxy:
        lw = AsyncClient(proxy.url, key)
        lw.events.reconnect_delay_s = 0.05
        stream = await lw.sessions.send(session.id, "add milk", stream=True)
        run_id = ""
        async for event in stream:
            seen.append(event)
            run_id = event.run_id or run_id
            if event.type == "tool.completed":
                # The network drops, and stays down while the run goes on and ends.
                proxy.paused = True
                proxy.cut()
                second.gate.set()
                await direct.runs.wait(run_id, timeout_s=30)
                proxy.paused = False
        await lw.close()
    await direct.close()
    assert proxy.connections >= 3  # the POST, the first stream, the resumed one
    truth = await AsyncClient(store.live.base_url, key).events.list(run_id=run_id, limit=1000)
    stored = [(e.seq, e.type) for e in seen if e.seq is not None]
    assert stored == [(e.seq, e.type) for e in truth.items]
    assert stored[-1][1] == "run.completed"
    assert any(e.type == "llm.text_delta" for e in seen)  # live deltas before the cut


def test_the_client_distribution_holds_what_the_client_needs(tmp_path: Path) -> None:
    """``clients/python`` builds ``loopwright-client`` from the packages it lists: with only
    those files (and httpx, pydantic) on the path, the client imports and parses events."""
    config = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())
    packages = config["tool"]["setuptools"]["packages"]
    assert packages == ["loopwright.client", "loopwright.domain"]
    for package in packages:
        folder = package.replace(".", "/")
        shutil.copytree(ROOT / "src" / folder, tmp_path / folder)
    code = (
        "import loopwright.client as c; "
        'e = c.parse_event(\'{"seq": null, "type": "llm.text_delta", "session_id": null,'
        ' "run_id": "r", "created_at": "2026-01-01T00:00:00Z",'
        ' "payload": {"step": 0, "delta": "hi"}}\'); '
        "print(type(e).__name__)"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            f"import sys; sys.path[:0] = {[str(tmp_path), *SITE]!r}; {code}",
        ],
        capture_output=True,
        text=True,
        env={},
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "LlmTextDeltaEvent", done.stderr


async def test_the_sync_client_resumes_a_cut_stream_too(
    store: Store, fake: tuple[GatedLLM, str]
) -> None:
    llm, model_url = fake
    key = await admin_key(store)
    second = Hold(Reply(text=["Done"]))
    llm.push(Reply(tool_calls=[ToolCall("create_task", {"title": "Tea"})]), second)
    direct = AsyncClient(store.live.base_url, key)
    await direct.providers.create("fake", "openai", base_url=f"{model_url}/v1", api_key="k")
    agent = await direct.agents.create(name="cut", model="fake:m", tools=["create_task"])
    session = await direct.sessions.create(agent.id)
    loop = asyncio.get_running_loop()

    async with proxy_to(store.live.base_url) as proxy:

        async def drop_until_the_run_ended(run_id: str) -> None:
            proxy.paused = True
            proxy.cut()
            second.gate.set()
            await direct.runs.wait(run_id, timeout_s=30)
            proxy.paused = False

        def follow() -> list[Event]:
            seen: list[Event] = []
            with Client(proxy.url, key) as lw:
                lw.events.reconnect_delay_s = 0.05
                for event in lw.sessions.send(session.id, "add tea", stream=True):
                    seen.append(event)
                    if event.type == "tool.completed" and event.run_id:
                        dropped = drop_until_the_run_ended(event.run_id)
                        asyncio.run_coroutine_threadsafe(dropped, loop).result()
            return seen

        seen = await asyncio.to_thread(follow)
        assert proxy.connections >= 3  # the POST, the first stream, the resumed one
    run_id = seen[-1].run_id
    truth = await direct.events.list(run_id=run_id, limit=1000)
    await direct.close()
    stored = [(e.seq, e.type) for e in seen if e.seq is not None]
    assert stored == [(e.seq, e.type) for e in truth.items]
    assert stored[-1][1] == "run.completed"
