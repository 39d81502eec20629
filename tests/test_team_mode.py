"""Team mode on the session's servers (SQLite in process, PostgreSQL in a process of its own):
the planner routes each message class, plans run their independent steps concurrently as
read-only executor child runs, invalid decisions are corrected then fail the run, failed steps
are retried then reported, a cancel stops every executor within a second, and the offline
model plans "compare my projects" with no API key.

The planner speaks to one scripted fake model (its requests come one after another), the
executors to another that answers by what each request asks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Live, Store, make_settings, new_pg_database
from tests.event_audit import EventAudit
from tests.llm.fakes import Fail, Reply, ToolCall, openai_app, serve
from tests.procs import OPERATOR_KEY, STARTED, ServerProcess
from tests.scripted import GatedLLM, Hold
from tests.sse import frames
from tests.team_fakes import (
    ExecutorLLM,
    decide,
    echo_step,
    has_tool_result,
    last_user,
    step,
)


class Team:
    """A store with a team agent: planner on ``planner:m``, executors on ``executor:m``."""

    def __init__(self, store: Store, agent: dict[str, Any]) -> None:
        self.store = store
        self.agent = agent

    @property
    def http(self) -> Any:
        return self.store.admin

    def url(self, path: str) -> str:
        return f"{self.store.path}{path}"

    async def send(self, content: str) -> str:
        chat = await self.store.session(self.agent["id"])
        r = await self.http.post(
            self.url(f"/sessions/{chat['id']}/messages"), json={"content": content}
        )
        assert r.status_code == 202, r.text
        return str(r.json()["run"]["id"])

    async def wait(self, run_id: str) -> dict[str, Any]:
        r = await self.http.post(self.url(f"/runs/{run_id}/wait"), params={"timeout_s": 60})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def events(self, run_id: str) -> list[dict[str, Any]]:
        r = await self.http.get(self.url("/events"), params={"run_id": run_id, "limit": 500})
        return list(r.json()["items"])

    async def plan_of(self, run_id: str) -> dict[str, Any]:
        listed = (await self.http.get(self.url("/plans"), params={"run_id": run_id})).json()
        assert len(listed["items"]) == 1, listed
        r = await self.http.get(self.url(f"/plans/{listed['items'][0]['id']}"))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def children(self, run_id: str) -> list[dict[str, Any]]:
        r = await self.http.get(self.url("/runs"), params={"parent_run_id": run_id})
        return list(r.json()["items"])


async def team_on(live: Live, planner_url: str, executor_url: str | None, **agent: Any) -> Team:
    store = await live.new_store("team")
    for name, url in (("planner", planner_url), ("executor", executor_url)):
        if url is not None:
            r = await store.admin.post(
                f"{store.path}/providers",
                json={"name": name, "kind": "openai", "base_url": f"{url}/v1", "api_key": "k"},
            )
            assert r.status_code == 201, r.text
    fields: dict[str, Any] = {
        "name": f"team-{uuid.uuid4().hex[:6]}",
        "model": "planner:m",
        "mode": "team",
        "tools": ["list_tasks", "create_task", "read_project"],
        **agent,
    }
    if executor_url is not None:
        fields.setdefault("executor_model", "executor:m")
    return Team(store, await store.agent(**fields))


@pytest.fixture(scope="module")
async def team_pg(
    tmp_path_factory: pytest.TempPathFactory, event_audit: EventAudit
) -> AsyncIterator[Live]:
    """A PostgreSQL server process for this module that may reach the fake models."""
    with new_pg_database() as url:
        data_dir = tmp_path_factory.mktemp("team-pg")
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
            await event_audit.read_log(url, "team_pg")


@pytest.fixture(params=["sqlite", "postgresql"])
def team_live(request: pytest.FixtureRequest) -> Live:
    found: Live = request.getfixturevalue("live" if request.param == "sqlite" else "team_pg")
    return found


@pytest.fixture
async def executors() -> AsyncIterator[tuple[ExecutorLLM, str]]:
    llm = ExecutorLLM(echo_step)
    async with serve(openai_app(llm)) as url:
        yield llm, url
        llm.release()


def offered(body: dict[str, Any]) -> set[str]:
    return {t["function"]["name"] for t in body.get("tools", [])}


async def test_each_route(team_live: Live, fake: tuple[GatedLLM, str]) -> None:
    """simple: a direct answer offered no tools; tool: the ordinary loop with the agent's
    tools; both announced in an ``analysis`` event with the reason."""
    planner, url = fake
    team = await team_on(team_live, url, None)
    planner.push(
        Reply(tool_calls=[decide("simple", "a greeting")]),
        Reply(text=["Hello there."]),
        Reply(tool_calls=[decide("tool", "one task to create")]),
        Reply(tool_calls=[ToolCall("create_task", {"title": "Milk"}, id="t1")]),
        Reply(text=["Created."]),
    )
    simple = await team.wait(await team.send("hi"))
    assert (simple["status"], simple["stop_reason"]) == ("completed", "final_answer")
    first, answer = planner.requests[0].body, planner.requests[1].body
    assert offered(first) == {"team_decide", "list_tasks", "read_project"}  # read-only + decide
    assert offered(answer) == set()
    analysis = [e for e in await team.events(simple["id"]) if e["type"] == "analysis"]
    assert [a["payload"] for a in analysis] == [
        {"route": "simple", "reason": "a greeting", "plan_id": None}
    ]

    tool = await team.wait(await team.send("create a task called Milk"))
    assert tool["status"] == "completed", tool
    assert offered(planner.requests[3].body) == {"list_tasks", "create_task", "read_project"}
    tasks = (await team.http.get(team.url("/tasks"))).json()["items"]
    assert [t["title"] for t in tasks] == ["Milk"]
    types = [e["type"] for e in await team.events(tool["id"])]
    assert types.count("analysis") == 1 and "plan.created" not in types


async def test_a_plan_runs_independent_steps_at_once_and_executors_only_read(
    team_live: Live, fake: tuple[GatedLLM, str], executors: tuple[ExecutorLLM, str]
) -> None:
    """Steps a, b, c are independent (their executors' requests are all in flight together),
    d needs their results; a's executor tries a writing tool, which is refused and audited;
    the synthesis reads every result; the plan reports statuses, executors and tokens."""
    planner, url = fake
    executor_llm, executor_url = executors
    team = await team_on(team_live, url, executor_url)
    plan = {"goal": "g", "steps": [step("a"), step("b"), step("c"), step("d", ["a", "b", "c"])]}
    planner.push(
        Reply(tool_calls=[decide("complex", "four parts", plan)]),
        Reply(text=["All four done."]),
    )

    def answer(body: dict[str, Any]) -> Reply:
        if last_user(body).startswith("step a") and not has_tool_result(body):
            return Reply(tool_calls=[ToolCall("create_task", {"title": "sneaky"}, id="w1")])
        return echo_step(body)  # type: ignore[return-value]

    executor_llm.answer = answer
    executor_llm.hold()
    run_id = await team.send("research four things")
    await executor_llm.wait_until(lambda: executor_llm.in_flight == 3)
    executor_llm.release()
    done = await team.wait(run_id)
    assert (done["status"], done["stop_reason"]) == ("completed", "final_answer"), done
    assert executor_llm.most_in_flight == 3

    d_request = next(
        r.body for r in executor_llm.requests if last_user(r.body).startswith("step d")
    )
    for key in "abc":
        assert f"result of step {key}" in last_user(d_request)
    synthesis = last_user(planner.requests[-1].body)
    assert "Results of the plan's steps" in synthesis and "result of step d" in synthesis

    # the read-write tool was refused by the toolset and audited, and changed nothing
    assert (await team.http.get(team.url("/tasks"))).json()["items"] == []
    audit = (await team.http.get(team.url("/tool-calls"))).json()["items"]
    refused = [c for c in audit if c["tool_name"] == "create_task"]
    assert len(refused) == 1 and refused[0]["outcome"] == "refused", audit
    assert "read-only" in str(refused[0]["result"])
    assert offered(executor_llm.requests[0].body) <= {"list_tasks", "read_project"}

    shown = await team.plan_of(run_id)
    assert shown["status"] == "completed" and shown["goal"] == "g"
    assert [s["status"] for s in shown["steps"]] == ["completed"] * 4
    assert [s["result"] for s in shown["steps"]] == [f"result of step {k}" for k in "abcd"]
    kids = {k["id"]: k for k in await team.children(run_id)}
    assert {s["executor_run_id"] for s in shown["steps"]} == set(kids)
    assert all(k["read_only"] and k["trigger"] == "child" for k in kids.values())
    assert {k["plan_step"]["step_id"] for k in kids.values()} == set("abcd")
    executor_tokens = sum(k["usage"]["input_tokens"] for k in kids.values())
    assert executor_tokens > 0
    assert shown["usage"]["executors"]["input_tokens"] == executor_tokens
    assert shown["usage"]["planner"]["input_tokens"] == done["usage"]["input_tokens"]
    total = shown["usage"]["total"]
    assert total["input_tokens"] == executor_tokens + done["usage"]["input_tokens"]

    types = [e["type"] for e in await team.events(run_id)]
    assert types.count("plan.step_started") == 4 and types.count("executor.spawned") == 4
    assert types.count("executor.result") == 4 and types.count("plan.step_completed") == 4
    assert types.index("plan.created") < types.index("plan.step_started")
    assert types.index("run.waiting") < types.index("run.completed")


async def test_an_invalid_decision_is_corrected_then_fails_the_run(
    team_live: Live, fake: tuple[GatedLLM, str]
) -> None:
    planner, url = fake
    team = await team_on(team_live, url, None)
    cycle = {"steps": [step("a", ["b"]), step("b", ["a"])]}
    unknown_tool = {"steps": [step("a", tools=["create_task"])]}
    planner.push(
        Reply(tool_calls=[decide("complex", "x", cycle, id="d1")]),
        Reply(tool_calls=[decide("simple", "fine then", id="d2")]),
        Reply(text=["Answer."]),
    )
    fixed = await team.wait(await team.send("anything"))
    assert fixed["status"] == "completed", fixed
    told = [m for m in planner.requests[1].body["messages"] if m.get("role") == "tool"]
    assert "cycle: a -> b -> a" in told[-1]["content"]

    planner.push(
        Reply(tool_calls=[decide("complex", "x", cycle, id="d1")]),
        Reply(tool_calls=[decide("complex", "x", unknown_tool, id="d2")]),
        Reply(tool_calls=[decide("sideways", "x", id="d3")]),
    )
    failed = await team.wait(await team.send("anything"))
    assert (failed["status"], failed["stop_reason"]) == ("failed", "invalid_plan"), failed
    assert "invalid 3 times" in failed["error"] and "route" in failed["error"]
    told = [m for m in planner.requests[-1].body["messages"] if m.get("role") == "tool"]
    assert "cannot use: create_task" in told[-1]["content"]


async def test_a_failed_step_is_retried_then_reported(
    team_live: Live, fake: tuple[GatedLLM, str], executors: tuple[ExecutorLLM, str]
) -> None:
    """x fails twice (its retry too), y needs x and is skipped, z completes: the synthesis is
    told, the plan is ``partial``."""
    planner, url = fake
    executor_llm, executor_url = executors
    team = await team_on(team_live, url, executor_url)
    plan = {"steps": [step("x"), step("y", ["x"]), step("z")]}
    planner.push(
        Reply(tool_calls=[decide("complex", "three", plan)]),
        Reply(text=["Partly done: x failed."]),
    )
    executor_llm.answer = lambda body: (
        Fail(400, "no such thing") if last_user(body).startswith("step x") else echo_step(body)
    )
    run_id = await team.send("three things")
    done = await team.wait(run_id)
    assert done["status"] == "completed", done
    shown = await team.plan_of(run_id)
    by_key = {s["step_id"]: s for s in shown["steps"]}
    assert (by_key["x"]["status"], by_key["x"]["attempts"]) == ("failed", 2)
    assert [e["status"] for e in by_key["x"]["executors"]] == ["failed", "failed"]
    assert by_key["y"]["status"] == "skipped" and "'x'" in by_key["y"]["error"]
    assert by_key["z"]["status"] == "completed"
    assert shown["status"] == "partial"
    synthesis = last_user(planner.requests[-1].body)
    assert "step x (failed after 2 attempts)" in synthesis
    assert "step y (skipped)" in synthesis and "result of step z" in synthesis
    results = [e for e in await team.events(run_id) if e["type"] == "executor.result"]
    assert [r["payload"]["retry"] for r in results if r["payload"]["step_id"] == "x"] == [
        True,
        False,
    ]


async def test_cancelling_the_planner_stops_every_executor_within_a_second(
    team_live: Live, fake: tuple[GatedLLM, str], executors: tuple[ExecutorLLM, str]
) -> None:
    planner, url = fake
    executor_llm, executor_url = executors
    team = await team_on(team_live, url, executor_url)
    planner.push(Reply(tool_calls=[decide("complex", "two", {"steps": [step("a"), step("b")]})]))
    executor_llm.hold()
    run_id = await team.send("two slow things")
    await executor_llm.wait_until(lambda: executor_llm.in_flight == 2)
    started = time.monotonic()
    r = await team.http.post(team.url(f"/runs/{run_id}/cancel"))
    assert r.status_code == 200, r.text
    await executor_llm.wait_until(lambda: executor_llm.abandoned == 2, timeout_s=5)
    assert time.monotonic() - started < 1.0
    kids = await team.children(run_id)
    assert {k["status"] for k in kids} == {"cancelled"}
    shown = await team.plan_of(run_id)
    assert shown["status"] == "cancelled"


async def test_the_offline_model_compares_projects_with_a_plan(team_live: Live) -> None:
    store = await team_live.new_store("offline-team")
    for name, tasks in (("Home", ["Buy milk"]), ("Work", ["Write report", "Call bank"])):
        project = (await store.admin.post(f"{store.path}/projects", json={"name": name})).json()
        for title in tasks:
            body = {"title": title, "project_id": project["id"]}
            assert (await store.admin.post(f"{store.path}/tasks", json=body)).status_code == 201
    agent = await store.agent(
        mode="team",
        model="offline:default",
        tools=["list_projects", "read_project", "create_task"],
    )
    team = Team(store, agent)
    run_id = await team.send("compare my projects")
    done = await team.wait(run_id)
    assert done["status"] == "completed", done
    shown = await team.plan_of(run_id)
    assert sorted(s["title"] for s in shown["steps"]) == [
        "Review project Home",
        "Review project Work",
    ]
    assert [s["status"] for s in shown["steps"]] == ["completed", "completed"]
    messages = (await team.http.get(team.url(f"/sessions/{done['session_id']}/messages"))).json()[
        "items"
    ]
    final = [m for m in messages if m["kind"] == "assistant"][-1]["content"]
    assert final.startswith("[offline] Here is what the team found")
    assert "Project Work: 2 tasks" in final and "Project Home: 1 tasks" in final
    sessions = {  # the executors' sessions are told apart from the user's
        child: {
            s["id"]
            for s in (await team.http.get(team.url("/sessions"), params={"child": child})).json()[
                "items"
            ]
        }
        for child in ("true", "false")
    }
    assert sessions["false"] == {done["session_id"]}
    assert len(sessions["true"]) == 2

    # a workspace request is routed to the planner's own tools, anything else answered
    tool = await team.wait(await team.send("create a task called Call mum"))
    assert tool["status"] == "completed", tool
    tasks = (await team.http.get(team.url("/tasks"))).json()["items"]
    assert "Call mum" in {t["title"] for t in tasks}
    simple = await team.wait(await team.send("hello there"))
    routes = [
        e["payload"]["route"]
        for run in (tool, simple)
        for e in await team.events(run["id"])
        if e["type"] == "analysis"
    ]
    assert routes == ["tool", "simple"]


async def test_a_step_starts_as_soon_as_its_dependencies_end(
    team_live: Live, fake: tuple[GatedLLM, str], executors: tuple[ExecutorLLM, str]
) -> None:
    """c needs only a: it runs while b is still held (the planner resumes per executor)."""
    planner, url = fake
    executor_llm, executor_url = executors
    team = await team_on(team_live, url, executor_url)
    plan = {"steps": [step("a"), step("b"), step("c", ["a"])]}
    planner.push(Reply(tool_calls=[decide("complex", "three", plan)]), Reply(text=["Done."]))
    executor_llm.held = lambda body: last_user(body).startswith("step b")
    executor_llm.hold()
    run_id = await team.send("three things")

    def c_asked() -> bool:
        return any(last_user(r.body).startswith("step c") for r in executor_llm.requests)

    await executor_llm.wait_until(c_asked)
    assert executor_llm.in_flight >= 1  # b is still held
    executor_llm.release()
    assert (await team.wait(run_id))["status"] == "completed"


async def test_the_planner_timeout_bounds_its_executors(
    team_live: Live, fake: tuple[GatedLLM, str], executors: tuple[ExecutorLLM, str]
) -> None:
    planner, url = fake
    executor_llm, executor_url = executors
    # 10 s: the executors end 1 s before the planner, time for it to resume and send its
    # synthesis request (0.2 s and 0.4 s were too short on PostgreSQL under load); it hangs,
    # so only the deadline ends the planner (an unscripted request was a 500, retried, and the
    # run ended `model_error` when the retries ran out first)
    team = await team_on(team_live, url, executor_url, timeout_s=10)
    planner.push(
        Reply(tool_calls=[decide("complex", "two", {"steps": [step("a"), step("b")]})]),
        Hold(Reply(text=["never sent"])),
    )
    executor_llm.hold()  # never answered: only the planner's deadline ends them
    started = time.monotonic()
    run_id = await team.send("two endless things")
    done = await team.wait(run_id)
    assert (done["status"], done["stop_reason"]) == ("timed_out", "timeout"), done
    assert time.monotonic() - started < 16
    kids = await team.children(run_id)  # they ended first, and were not retried
    assert [k["status"] for k in kids] == ["timed_out", "timed_out"], kids
    assert all(k["finished_at"] < done["finished_at"] for k in kids)
    synthesis = last_user(planner.requests[-1].body)
    assert "step a (failed)" in synthesis and "step b (failed)" in synthesis


async def test_a_planner_may_ask_another_agent_before_it_plans(
    team_live: Live, fake: tuple[GatedLLM, str], executors: tuple[ExecutorLLM, str]
) -> None:
    """A child run that is no executor (``ask_agent`` while planning) is neither a step's
    executor nor counted in the plan."""
    planner, url = fake
    _, executor_url = executors
    team = await team_on(team_live, url, executor_url, tools=["ask_agent", "list_tasks"])
    await team.store.agent(name="helper", tools=["list_tasks"])
    planner.push(
        Reply(tool_calls=[ToolCall("ask_agent", {"agent": "helper", "message": "list my tasks"})]),
        Reply(tool_calls=[decide("complex", "one", {"steps": [step("a")]})]),
        Reply(text=["Done."]),
    )
    run_id = await team.send("look, then plan")
    done = await team.wait(run_id)
    assert done["status"] == "completed", done
    shown = await team.plan_of(run_id)
    assert [s["status"] for s in shown["steps"]] == ["completed"]
    assert [len(s["executors"]) for s in shown["steps"]] == [1]
    kids = await team.children(run_id)
    assert sorted(k["plan_step"] is None for k in kids) == [False, True]
    executor_tokens = shown["steps"][0]["usage"]["input_tokens"]
    assert shown["usage"]["executors"]["input_tokens"] == executor_tokens


async def test_one_stream_follows_every_executor_of_a_planner(
    team_live: Live, fake: tuple[GatedLLM, str], executors: tuple[ExecutorLLM, str]
) -> None:
    """``parent_run_id`` on the event stream: the executors that ran before it opened (from
    the log) and the one started after (live), with their token deltas, and nothing else."""
    planner, url = fake
    executor_llm, executor_url = executors
    team = await team_on(team_live, url, executor_url)
    plan = {"steps": [step("a"), step("b"), step("c", ["a"])]}
    planner.push(Reply(tool_calls=[decide("complex", "three", plan)]), Reply(text=["Done."]))
    executor_llm.hold()
    run_id = await team.send("three things")
    await executor_llm.wait_until(lambda: executor_llm.in_flight == 2)
    seen: list[dict[str, Any]] = []
    headers = {"Accept": "text/event-stream"}
    params = {"parent_run_id": run_id}
    async with (
        asyncio.timeout(60),
        team.http.stream("GET", team.url("/events"), params=params, headers=headers) as response,
    ):
        async for frame in frames(response):
            seen.append(frame.data)
            started = {e["run_id"] for e in seen if e["type"] == "run.started"}
            if len(started) == 2 and not executor_llm.gate.is_set():
                executor_llm.release()  # a and b are in the stream's backlog: go on
            if sum(1 for e in seen if e["type"] == "run.completed") == 3:
                break
    kids = {k["id"]: k["plan_step"]["step_id"] for k in await team.children(run_id)}
    assert {e["run_id"] for e in seen} == set(kids)  # the executors', not the planner's
    deltas = {kids[e["run_id"]] for e in seen if e["type"] == "llm.text_delta"}
    assert "c" in deltas  # live, from an executor queued after the stream opened
    assert (await team.wait(run_id))["status"] == "completed"
    page = await team.http.get(team.url("/events"), params={"parent_run_id": run_id})
    assert {e["run_id"] for e in page.json()["items"]} == set(kids)
