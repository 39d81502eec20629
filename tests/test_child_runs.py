"""Child runs on real server processes, on SQLite and PostgreSQL: a parent's ``ask_agent``
calls start runs of another agent, the parent waits without its store slot, and goes on with
their answers; cancelling a parent cancels its children; a parent killed -9 while its children
run resumes without starting finished children again.

The parent ("boss") speaks to one scripted fake model; its children ("kid") run on the offline
model or on a second, gated fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Store
from tests.llm.fakes import Reply, ToolCall, openai_app, serve
from tests.procs import OPERATOR_KEY, ServerProcess
from tests.scripted import GatedLLM, Hold, tool_messages
from tests.sse import frames


def ask(agent: str, message: str, call_id: str) -> ToolCall:
    return ToolCall("ask_agent", {"agent": agent, "message": message}, id=call_id)


class Shop:
    """A store on a server process, with a client for it."""

    def __init__(self, server: ServerProcess, http: httpx.AsyncClient) -> None:
        self.server = server
        self.http = http

    async def restart(self) -> None:
        """Start the killed server again (on a new port)."""
        await self.server.start()
        headers = self.http.headers
        await self.http.aclose()
        self.http = httpx.AsyncClient(
            base_url=f"{self.server.base_url}/v1/stores/kids", headers=headers, timeout=90
        )

    async def provider(self, name: str, url: str) -> None:
        r = await self.http.post(
            "/providers",
            json={"name": name, "kind": "openai", "base_url": f"{url}/v1", "api_key": "k"},
        )
        assert r.status_code == 201, r.text

    async def agent(self, name: str, model: str, tools: list[str]) -> str:
        r = await self.http.post("/agents", json={"name": name, "model": model, "tools": tools})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def send(self, agent_id: str, content: str) -> dict[str, Any]:
        chat = (await self.http.post("/sessions", json={"agent_id": agent_id})).json()
        r = await self.http.post(f"/sessions/{chat['id']}/messages", json={"content": content})
        assert r.status_code == 202, r.text
        return dict(r.json()["run"])

    async def wait(self, run_id: str) -> dict[str, Any]:
        r = await self.http.post(f"/runs/{run_id}/wait", params={"timeout_s": 60})
        return dict(r.json())

    async def children(self, run_id: str) -> list[dict[str, Any]]:
        r = await self.http.get("/runs", params={"parent_run_id": run_id})
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    async def first_event(self, run_id: str, type_: str) -> dict[str, Any]:
        params = {"run_id": run_id, "types": type_}
        headers = {"Accept": "text/event-stream"}
        async with (
            asyncio.timeout(60),
            self.http.stream("GET", "/events", params=params, headers=headers) as response,
        ):
            async for frame in frames(response):
                return frame.data
        raise AssertionError(f"the stream ended before {type_}")

    async def event_types(self, run_id: str) -> list[str]:
        r = await self.http.get("/events", params={"run_id": run_id, "limit": 500})
        return [e["type"] for e in r.json()["items"]]


@contextlib.asynccontextmanager
async def shop(tmp_path: Path, database_url: str | None, **env: str) -> AsyncIterator[Shop]:
    settings = {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32", "LOOPWRIGHT_SWEEP_S": "0.5", **env}
    if database_url:
        settings["LOOPWRIGHT_DATABASE_URL"] = database_url
    server = ServerProcess(tmp_path, settings)
    await server.start()
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=operator) as op:
        assert (await op.post("/v1/stores", json={"id": "kids"})).status_code == 201
        key = (await op.post("/v1/stores/kids/keys", json={"role": "admin"})).json()["key"]
    async with httpx.AsyncClient(
        base_url=f"{server.base_url}/v1/stores/kids",
        headers={"Authorization": f"Bearer {key}"},
        timeout=90,
    ) as http:
        opened = Shop(server, http)
        yield opened
        await opened.http.aclose()
    await server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("own_pg_url")
    return url


async def test_a_parent_waits_for_its_children_without_its_slot(
    tmp_path: Path, database_url: str | None, fake: tuple[GatedLLM, str]
) -> None:
    """One run at a time in the store: the parent must give its slot to its children."""
    boss_llm, boss_url = fake
    boss_llm.push(
        Reply(
            tool_calls=[
                ask("kid", "create a task called Alpha", "c1"),
                ask("kid", "create a task called Beta", "c2"),
            ]
        ),
        Reply(text=["Both are done."]),
    )
    async with shop(tmp_path, database_url, LOOPWRIGHT_STORE_CONCURRENCY="1") as s:
        await s.provider("fake", boss_url)
        await s.agent("kid", "offline:default", ["create_task"])
        boss = await s.agent("boss", "fake:m", ["ask_agent"])
        parent = await s.send(boss, "split the work")
        done = await s.wait(parent["id"])
        assert (done["status"], done["stop_reason"]) == ("completed", "final_answer")

        kids = await s.children(parent["id"])
        assert len(kids) == 2
        assert {k["status"] for k in kids} == {"completed"}
        assert {k["trigger"] for k in kids} == {"child"}
        assert len({k["session_id"] for k in kids} | {parent["session_id"]}) == 3
        tasks = (await s.http.get("/tasks")).json()["items"]
        assert sorted(t["title"] for t in tasks) == ["Alpha", "Beta"]
        answers = " ".join(m["content"] for m in tool_messages(boss_llm.requests[-1].body))
        assert "Alpha" in answers and "Beta" in answers
        types = await s.event_types(parent["id"])
        assert (
            types.index("run.waiting") < types.index("run.resumed") < types.index("run.completed")
        )


async def test_cancelling_a_parent_cancels_its_children_in_another_process(
    tmp_path: Path, fake: tuple[GatedLLM, str]
) -> None:
    """The children run in process A; the cancel arrives at process B on the same database,
    and their model calls are interrupted within a second."""
    boss_llm, boss_url = fake
    boss_llm.push(
        Reply(tool_calls=[ask("kid", "one", "c1"), ask("kid", "two", "c2")]),
    )
    kid_llm = GatedLLM()
    kid_llm.push(Hold(Reply(text=["never"])), Hold(Reply(text=["never"])))
    async with (
        serve(openai_app(kid_llm)) as kid_url,
        shop(tmp_path, None, LOOPWRIGHT_EXECUTOR_ID="a") as a,
    ):
        await a.provider("fake", boss_url)
        await a.provider("kidfake", kid_url)
        await a.agent("kid", "kidfake:m", [])
        boss = await a.agent("boss", "fake:m", ["ask_agent"])
        parent = await a.send(boss, "fan out")
        await kid_llm.wait_for_requests(2, timeout_s=60)

        b = ServerProcess(
            tmp_path, {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32", "LOOPWRIGHT_EXECUTOR_ID": "b"}
        )
        await b.start()
        async with httpx.AsyncClient(
            base_url=f"{b.base_url}/v1/stores/kids", headers=a.http.headers, timeout=30
        ) as via_b:
            started = time.monotonic()
            r = await via_b.post(f"/runs/{parent['id']}/cancel")
            assert r.status_code == 200, r.text
            await kid_llm.wait_for_abandoned(2, timeout_s=5)
            interrupted_after = time.monotonic() - started
        kids = await a.children(parent["id"])
        assert {k["status"] for k in kids} == {"cancelled"}
        assert {k["stop_reason"] for k in kids} == {"parent_cancelled"}
        assert interrupted_after < 1.0, interrupted_after
        await b.stop()
    kid_llm.reset()


async def test_a_parent_killed_while_its_children_run_resumes_without_restarting_them(
    tmp_path: Path, database_url: str | None, fake: tuple[GatedLLM, str]
) -> None:
    boss_llm, boss_url = fake
    boss_llm.push(
        Reply(
            tool_calls=[
                ask("quick", "create a task called Once", "c1"),
                ask("slow", "think hard", "c2"),
            ]
        ),
        Reply(text=["All answered."]),
    )
    slow_llm = GatedLLM()
    slow_llm.push(Hold(Reply(text=["lost with the process"])), Reply(text=["thought hard"]))
    async with serve(openai_app(slow_llm)) as slow_url, shop(tmp_path, database_url) as s:
        await s.provider("fake", boss_url)
        await s.provider("slowfake", slow_url)
        quick_agent = await s.agent("quick", "offline:default", ["create_task"])
        await s.agent("slow", "slowfake:m", [])
        boss = await s.agent("boss", "fake:m", ["ask_agent"])
        parent = await s.send(boss, "two questions")
        await slow_llm.wait_for_requests(1, timeout_s=60)
        await s.first_event(parent["id"], "run.waiting")  # both children exist
        kids_before = {k["id"]: k for k in await s.children(parent["id"])}
        [quick] = [k for k in kids_before.values() if k["agent_id"] == quick_agent]
        assert (await s.wait(quick["id"]))["status"] == "completed"
        await s.server.kill()

        await s.restart()
        done = await s.wait(parent["id"])
        assert (done["status"], done["stop_reason"]) == ("completed", "final_answer")
        kids = await s.children(parent["id"])
        assert {k["id"] for k in kids} == set(kids_before)  # no child started again
        assert {k["status"] for k in kids} == {"completed"}
        tasks = (await s.http.get("/tasks")).json()["items"]
        assert [t["title"] for t in tasks] == ["Once"]  # the finished child acted once
        first_step = [r for r in boss_llm.requests if not tool_messages(r.body)]
        assert len(first_step) == 1  # the parent's answered request was not sent again
        answers = " ".join(m["content"] for m in tool_messages(boss_llm.requests[-1].body))
        assert "Once" in answers and "thought hard" in answers
    slow_llm.reset()


async def test_ask_agent_is_listed_and_runs_only_inside_a_run(store: Store) -> None:
    tools = (await store.admin.get(f"{store.path}/tools")).json()["items"]
    assert [t["read_only"] for t in tools if t["name"] == "ask_agent"] == [True]
    r = await store.admin.post(
        f"{store.path}/tools/ask_agent/test", json={"arguments": {"agent": "a", "message": "b"}}
    )
    assert r.status_code == 409, r.text
    r = await store.admin.post(
        f"{store.path}/tools",
        json={
            "name": "ask_agent",
            "description": "d",
            "url": "http://127.0.0.1:9/x",
            "method": "GET",
            "parameters": {"type": "object"},
        },
    )
    assert r.status_code == 409, r.text
