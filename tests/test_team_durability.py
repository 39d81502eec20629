"""A team run's server killed -9 mid-plan, on SQLite and PostgreSQL: after the restart the
finished step is not run again (its executor is neither re-requested nor re-started, its tool
call is audited once), the running step's executor resumes, the dependent step starts, and the
plan completes with one synthesis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.llm.fakes import Reply, ToolCall, openai_app, serve
from tests.scripted import GatedLLM
from tests.team_fakes import ExecutorLLM, decide, echo_step, has_tool_result, last_user, step
from tests.test_child_runs import shop


async def test_a_team_run_killed_mid_plan_finishes_without_rerunning_finished_steps(
    tmp_path: Path, database_url: str | None, fake: tuple[GatedLLM, str]
) -> None:
    planner, planner_url = fake
    plan = {"steps": [step("a"), step("b"), step("c", ["a", "b"])]}
    planner.push(
        Reply(tool_calls=[decide("complex", "three", plan)]),
        Reply(text=["Everything is known."]),
    )

    def answer(body: dict[str, Any]) -> Reply:
        if last_user(body).startswith("step a") and not has_tool_result(body):
            return Reply(tool_calls=[ToolCall("list_tasks", {}, id="look")])
        return echo_step(body)  # type: ignore[return-value]

    executor_llm = ExecutorLLM(answer)
    async with serve(openai_app(executor_llm)) as executor_url, shop(tmp_path, database_url) as s:
        await s.provider("planner", planner_url)
        await s.provider("executor", executor_url)
        r = await s.http.post(
            "/agents",
            json={
                "name": "crew",
                "model": "planner:m",
                "mode": "team",
                "executor_model": "executor:m",
                "tools": ["list_tasks"],
            },
        )
        assert r.status_code == 201, r.text
        executor_llm.held = lambda body: last_user(body).startswith("step b")
        executor_llm.hold()
        parent = await s.send(r.json()["id"], "three things")
        # a and b are both asked; a answers (after its tool call), b's answer is held
        await executor_llm.wait_until(
            lambda: executor_llm.in_flight == 1 and len(executor_llm.requests) == 3
        )
        kids = {k["plan_step"]["step_id"]: k for k in await s.children(parent["id"])}
        assert set(kids) == {"a", "b"}
        assert (await s.wait(kids["a"]["id"]))["status"] == "completed"
        requests_of_a = [r for r in executor_llm.requests if last_user(r.body).startswith("step a")]
        assert len(requests_of_a) == 2
        await s.server.kill()

        executor_llm.release()
        await s.restart()
        done = await s.wait(parent["id"])
        assert (done["status"], done["stop_reason"]) == ("completed", "final_answer"), done

        after = {k["plan_step"]["step_id"]: k for k in await s.children(parent["id"])}
        assert set(after) == {"a", "b", "c"}  # one executor per step: none started again
        assert after["a"]["id"] == kids["a"]["id"] and after["b"]["id"] == kids["b"]["id"]
        assert {k["status"] for k in after.values()} == {"completed"}
        again = [r for r in executor_llm.requests if last_user(r.body).startswith("step a")]
        assert len(again) == 2  # the finished executor was not asked again
        audit = (await s.http.get("/tool-calls")).json()["items"]
        # the executor's tool call ran once, the decision was recorded once
        assert sorted(c["tool_name"] for c in audit) == ["list_tasks", "team_decide"]
        c_request = next(r.body for r in executor_llm.requests if "step c" in last_user(r.body))
        assert "result of step a" in last_user(c_request)
        assert "result of step b" in last_user(c_request)
        assert len(planner.requests) == 2  # the decision was not asked again

        listed = (await s.http.get("/plans", params={"run_id": parent["id"]})).json()["items"]
        shown = (await s.http.get(f"/plans/{listed[0]['id']}")).json()
        assert shown["status"] == "completed"
        assert [x["attempts"] for x in shown["steps"]] == [1, 1, 1]
        types = await s.event_types(parent["id"])
        assert types.count("plan.step_started") == 3
        assert types.count("plan.step_completed") == 3
        assert types.count("run.completed") == 1
    executor_llm.release()
