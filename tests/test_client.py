"""The Python client against a real server: typed calls, errors, pages, and event streams that
resume after a dropped connection."""

from __future__ import annotations

import asyncio
import inspect
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopwright.client import (
    AsyncClient,
    Client,
    ClientError,
    Conflict,
    Event,
    Forbidden,
    NotFound,
    Unauthenticated,
    UnknownEvent,
    ValidationFailed,
    parse_event,
)
from loopwright.client._async_base import AsyncResource
from loopwright.domain.public_events import (
    ApprovalDecidedEvent,
    ApprovalRequestedEvent,
    RunCompletedEvent,
    ToolCompletedEvent,
)
from tests.conftest import Store
from tests.llm.fakes import Reply, ToolCall
from tests.procs import OPERATOR_KEY
from tests.scripted import GatedLLM, Hold
from tests.tcp_proxy import proxy_to
from tests.test_callbacks import Receiver, receiving

pytestmark = pytest.mark.both_databases  # the store fixture on SQLite and PostgreSQL

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


async def test_memories_suggestions_and_reflection(store: Store) -> None:
    async with AsyncClient(store.live.base_url, await admin_key(store)) as lw:
        agent = await lw.agents.create(name="rememberer", memory=True, memory_budget_tokens=800)
        assert agent.memory and agent.memory_budget_tokens == 800
        made = await lw.memories.create(agent.id, "The office is in Lyon", importance=0.7)
        assert (made.type, made.importance, made.source.kind) == ("fact", 0.7, "manual")
        assert (await lw.memories.get(made.id)) == made
        changed = await lw.memories.update(made.id, type="instruction", shared=True)
        assert changed.type == "instruction" and changed.shared
        assert [m.id for m in (await lw.memories.list(agent_id=agent.id, q="lyon")).items] == [
            made.id
        ]
        with pytest.raises(ValidationFailed):
            await lw.memories.create(agent.id, "")
        await lw.memories.delete(made.id)
        with pytest.raises(NotFound):
            await lw.memories.get(made.id)

        session = await lw.sessions.create(agent.id)
        await lw.sessions.send(session.id, "Remember that I prefer short answers.", wait=True)
        reflection = await lw.memories.reflect(session.id)
        assert reflection.run_id and reflection.messages == 2
        assert (await lw.runs.wait(reflection.run_id, timeout_s=60)).status == "completed"
        [suggestion] = (await lw.memory_suggestions.list(agent_id=agent.id)).items
        assert (suggestion.content, suggestion.status) == ("I prefer short answers", "pending")
        assert (await lw.memory_suggestions.get(suggestion.id)) == suggestion
        approved = await lw.memory_suggestions.approve(suggestion.id, importance=0.9)
        assert approved.status == "approved" and approved.memory_id
        assert (await lw.memories.get(approved.memory_id)).importance == 0.9
        with pytest.raises(Conflict):
            await lw.memory_suggestions.reject(suggestion.id)
        assert (await lw.memories.reflect(session.id)).run_id is None  # nothing new

        await lw.sessions.send(session.id, "remember that the office is in Paris", wait=True)
        second = await lw.memories.reflect(session.id)
        assert second.run_id is not None
        await lw.runs.wait(second.run_id, timeout_s=60)
        [pending] = (await lw.memory_suggestions.list(status="pending")).items
        assert (await lw.memory_suggestions.reject(pending.id)).status == "rejected"

        assert (await lw.memories.settings()).embedding_model is None
        with pytest.raises(ValidationFailed):
            await lw.memories.set_settings(embedding_model="nowhere:embed")
        assert (await lw.memories.set_settings(embedding_model=None)).embedding_model is None


async def test_guardrails_settings_limits_and_approvals(store: Store) -> None:
    async with AsyncClient(store.live.base_url, await admin_key(store)) as lw:
        settings = await lw.settings.get()
        assert settings.runs_enabled and settings.store_concurrency >= 1
        changed = await lw.settings.update(approval_ttl_s=600, tool_limits={"create_task": 50})
        assert changed.approval_ttl_s == 600 and changed.tool_limits == {"create_task": 50}
        with pytest.raises(Forbidden):
            await lw.settings.update(runs_per_min=5)  # an operator's field
        agent = await lw.agents.create(
            name="careful", tools=["create_task"], approval="always", tool_approvals={}
        )
        assert agent.approval == "always"
        session = await lw.sessions.create(agent.id)

        seen: list[Event] = []
        stream = await lw.sessions.send(session.id, "create a task called Approved", stream=True)
        async for event in stream:
            seen.append(event)
            if isinstance(event, ApprovalRequestedEvent):
                pending = await lw.approvals.list(status="pending", run_id=event.run_id)
                assert [a.id for a in pending.items] == [event.payload.approval_id]
                approval = await lw.approvals.get(event.payload.approval_id)
                assert approval.tool == "create_task"
                assert approval.arguments == {"title": "Approved"}
                decided = await lw.approvals.approve(approval.id)
                assert decided.status == "approved" and decided.decided_by
                with pytest.raises(Conflict):
                    await lw.approvals.reject(approval.id, reason="too late")
        types = [e.type for e in seen]
        assert types.index("approval.requested") < types.index("approval.decided")
        assert types[-1] == "run.completed"
        assert [t.title for t in (await lw.tasks.list()).items] == ["Approved"]

        stream = await lw.sessions.send(session.id, "create a task called Refused", stream=True)
        async for event in stream:
            if isinstance(event, ApprovalRequestedEvent):
                await lw.approvals.reject(event.payload.approval_id, reason="not today")
            if isinstance(event, ApprovalDecidedEvent):
                assert (event.payload.decision, event.payload.reason) == ("rejected", "not today")
        assert [t.title for t in (await lw.tasks.list()).items] == ["Approved"]
        rejected = await lw.approvals.list(status="rejected")
        assert [a.reason for a in rejected.items] == ["not today"]

        limits = await lw.limits.get(agent_id=agent.id)
        # test_guardrails counts within one UTC minute; here the two runs may straddle a minute
        assert limits.runs_enabled and limits.minute.runs.limit == settings.runs_per_min
        assert 0 <= limits.minute.runs.used <= 2 and limits.minute.start.second == 0
        assert [a.agent_id for a in limits.agents] == [agent.id]
        assert [(t.tool, t.calls_this_minute.limit) for t in limits.tools] == [("create_task", 50)]


async def test_triggers_schedules_webhooks_deliveries_and_mail(store: Store) -> None:
    async with AsyncClient(store.live.base_url, await admin_key(store)) as lw:
        agent = await lw.agents.create(name="triggered")
        preview = await lw.schedules.preview("0 9 * * 1", timezone="Europe/Paris", count=3)
        assert len(preview.times) == 3 and preview.times == sorted(preview.times)
        schedule = await lw.schedules.create(agent.id, "0 9 * * 1", "weekly report")
        assert schedule.enabled and schedule.next_due_at and schedule.timezone == "UTC"
        with pytest.raises(ValidationFailed):
            await lw.schedules.create(agent.id, "not a cron", "x")
        assert (await lw.schedules.pause(schedule.id)).next_due_at is None
        assert (await lw.schedules.resume(schedule.id)).next_due_at
        changed = await lw.schedules.update(schedule.id, message="daily", cron="0 9 * * *")
        assert (await lw.schedules.get(schedule.id)) == changed
        assert [s.id for s in (await lw.schedules.list()).items] == [schedule.id]
        assert (await lw.schedules.fires(schedule.id)).items == []
        await lw.schedules.delete(schedule.id)
        with pytest.raises(NotFound):
            await lw.schedules.get(schedule.id)

        hook = await lw.webhooks.create(agent.id, name="ci", template="Build: {body.status}")
        assert hook.secret.startswith("whsec_") and hook.url.endswith(f"/hooks/{hook.id}")
        accepted = await lw.webhooks.deliver(hook.id, hook.secret, b'{"status": "green"}')
        await lw.runs.wait(accepted["run_id"], timeout_s=60)
        [receipt] = (await lw.webhooks.receipts(hook.id)).items
        assert receipt.run_id == accepted["run_id"]
        with pytest.raises(Unauthenticated):
            await lw.webhooks.deliver(hook.id, "whsec_" + "QUJD" * 8, b"{}")
        assert (await lw.webhooks.update(hook.id, enabled=False)).enabled is False
        assert (await lw.webhooks.get(hook.id)).name == "ci"
        assert [w.id for w in (await lw.webhooks.list()).items] == [hook.id]
        await lw.webhooks.delete(hook.id)

        receiver = Receiver(failures=0)
        async with receiving(receiver) as url:
            session = await lw.sessions.create(agent.id)
            sent = await lw.sessions.send(session.id, "hello", callback_url=url)
            await asyncio.wait_for(receiver.delivered.wait(), 60)
        [delivery] = (await lw.deliveries.list(run_id=sent.run.id)).items
        assert delivery.url == url and delivery.run_id == sent.run.id
        assert (await lw.deliveries.signing_secret()).startswith("whsec_")

        assert await lw.mail.senders(agent.id) == []
        senders = ["ana@example.com", "@example.org"]
        assert await lw.mail.set_senders(agent.id, senders) == senders
        assert await lw.mail.senders(agent.id) == senders
        mailed = await lw.mail.send_to_mailbox(agent.id, "ping", priority="high")
        assert mailed.message.content == "ping" and mailed.run.priority == "high"
        assert mailed.run.agent_id == agent.id and mailed.run.session_id != session.id


async def test_operator_usage_and_readiness(store: Store) -> None:
    async with AsyncClient(store.live.base_url, await admin_key(store)) as lw:
        agent = await lw.agents.create(name="counted")
        session = await lw.sessions.create(agent.id)
        await lw.sessions.send(session.id, "hello", wait=True)
        daily = await lw.usage.get(group_by="day")
        assert daily.bucket == "day" and daily.totals["runs_total"] == 1
        assert await lw.ops.health()
        ready = await lw.ops.ready()
        assert ready.ready and ready.checks["database"] == "ok"
        with pytest.raises(Forbidden):
            await lw.usage.all_stores()
    async with AsyncClient(store.live.base_url, OPERATOR_KEY, store=store.id) as operator:
        everything = await operator.usage.all_stores(group_by="store")
        assert store.id in {row["group"] for row in everything.series}


def placeholder(parameter: inspect.Parameter) -> Any:
    """A value of the parameter's type that names nothing (the server answers 404 or 422)."""
    kind = str(parameter.annotation)
    if parameter.name == "secret":
        return "whsec_QUJDRA=="
    if kind.startswith("bytes"):
        return b"{}"
    if kind.startswith("list"):
        return []
    if kind.startswith("dict"):
        return {}
    return None if kind.endswith("None") else "nothing"


async def test_the_client_covers_every_operation_of_the_api(store: Store) -> None:
    """Every method of every resource, called against the server with ids that name nothing:
    together their requests reach every operation ``/openapi.json`` documents."""
    document = (await store.live.http.get("/openapi.json")).json()
    operations = {
        (method.upper(), path)
        for path, by_method in document["paths"].items()
        for method in by_method
    }
    patterns = {
        operation: re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", operation[1]) + "$")
        for operation in operations
    }
    sent: set[tuple[str, str]] = set()

    async def record(request: httpx.Request) -> None:
        sent.add((request.method, request.url.path))

    async with AsyncClient(store.live.base_url, await admin_key(store)) as lw:
        lw.http.event_hooks["request"].append(record)
        await lw.me()
        for resource in vars(lw).values():
            if not isinstance(resource, AsyncResource):
                continue
            for name, method in inspect.getmembers(resource, inspect.iscoroutinefunction):
                if name.startswith("_"):
                    continue
                required = [
                    p
                    for p in inspect.signature(method).parameters.values()
                    if p.default is inspect.Parameter.empty
                    and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
                ]
                positional = [placeholder(p) for p in required if p.kind != p.KEYWORD_ONLY]
                named = {p.name: placeholder(p) for p in required if p.kind == p.KEYWORD_ONLY}
                try:
                    found = await method(*positional, **named)
                except ClientError:
                    continue
                if isinstance(found, httpx.Response):
                    await found.aclose()
    covered = {
        operation
        for operation, pattern in patterns.items()
        if any(m == operation[0] and pattern.match(path) for m, path in sent)
    }
    assert sorted(operations - covered) == []
