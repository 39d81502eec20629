"""The chat page with a team agent: the plan panel shows the routing decision, the steps
reaching completed with their executors' output nested, the synthesis as the reply, and a
reload rebuilds the same panel once; the run page shows the plan with its token totals."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.llm.fakes import Reply, ToolCall
from tests.scripted import GatedLLM, Hold
from tests.ui.conftest import UiStore
from tests.ui.test_chat import fake_agent, open_session, send

TEAM = {"mode": "team", "tools": ["list_projects", "read_project", "list_tasks"]}


async def team_store(store: UiStore) -> dict[str, Any]:
    """Two projects with tasks and a team agent on the offline model (as the demo store)."""
    for name, task in (("Home", "Buy milk"), ("Work", "Write the report")):
        r = await store.admin.post(f"{store.path}/projects", json={"name": name})
        assert r.status_code == 201, r.text
        r = await store.admin.post(
            f"{store.path}/tasks", json={"title": task, "project_id": r.json()["id"]}
        )
        assert r.status_code == 201, r.text
    return await store.agent(name="team", **TEAM)


async def test_team_chat_shows_the_plan_its_executors_and_the_answer_and_survives_reload(
    page: Page, ui_store: UiStore
) -> None:
    agent = await team_store(ui_store)
    await open_session(page, ui_store, agent["id"], title="Compare")
    await send(page, "compare my projects")

    panel = page.locator(".plan-panel")
    await expect(panel.locator(".plan-route")).to_contain_text("route: complex")
    steps = panel.locator(".plan-step")
    await expect(steps).to_have_count(2)
    await expect(page.locator(".run-status").last).to_have_attribute("data-status", "completed")
    for i in range(2):
        await expect(steps.nth(i)).to_have_attribute("data-status", "completed")
    await expect(steps.locator("details.executor")).to_have_count(2)
    outputs = steps.locator(".executor-text")
    await expect(outputs.filter(has_text="Project Home")).to_have_count(1)
    await expect(outputs.filter(has_text="Project Work")).to_have_count(1)
    # the executors' own tool calls come only on their stream (parent_run_id)
    await expect(steps.locator(".executor-tools li")).to_have_text(["⚙ read_project"] * 2)
    answer = page.locator(".msg-assistant .bubble").last
    await expect(answer).to_contain_text("Home")
    await expect(answer).to_contain_text("Work")
    before = await steps.evaluate_all("els => els.map(e => e.dataset.step)")

    await page.reload()
    await expect(page.locator(".run-status").last).to_have_attribute("data-status", "completed")
    await expect(panel).to_have_count(1)
    await expect(steps).to_have_count(2)
    await expect(steps.locator("details.executor")).to_have_count(2)
    after = await steps.evaluate_all("els => els.map(e => e.dataset.step)")
    assert after == before
    for i in range(2):
        await expect(steps.nth(i)).to_have_attribute("data-status", "completed")
    await expect(outputs.filter(has_text="Project Home")).to_have_count(1)
    await expect(outputs.filter(has_text="Project Work")).to_have_count(1)
    await expect(panel.locator(".plan-usage")).to_contain_text("Plan tokens")
    await expect(page.locator(".msg-assistant .bubble")).to_have_count(1)
    # the executors' sessions are the team's own, not the user's to pick from
    await expect(page.locator(".session-list li.session-item")).to_have_count(1)
    await expect(page.locator(".session-list li.session-item")).to_contain_text("Compare")

    # The run inspector lists the planner's executors, and the tool calls of a run with timings.
    await page.get_by_role("button", name="Run details").first.click()
    children = page.locator("#inspector .child-runs li")
    await expect(children).to_have_count(2)
    await expect(children.first).to_contain_text("completed")

    run_link = page.locator(".run-status .run-link").last
    await run_link.click()
    plan = page.locator("#run-plan")
    await expect(plan.locator(".plan-step")).to_have_count(2)
    await expect(plan).to_contain_text("Total")
    await plan.locator(".plan-step").first.locator("td a").click()  # its executor's run
    await expect(page.locator("dl.facts")).to_contain_text("Plan step")
    await expect(page.locator("dl.facts")).to_contain_text("attempt 1")


async def test_the_agent_form_shows_the_executor_fields_for_a_team_and_saves_them(
    page: Page, ui_store: UiStore
) -> None:
    await page.goto("/agents/new")
    executor_model = page.get_by_label("Executor model", exact=True)
    await expect(executor_model).to_be_hidden()  # a single agent has no executors
    await page.get_by_label("Name", exact=True).fill("Planner")
    await page.get_by_label("Mode", exact=True).select_option("team")
    await expect(executor_model).to_be_visible()
    await executor_model.fill("nope")
    await page.get_by_label("Executor system prompt").fill("Be brief.")
    await page.get_by_role("button", name="Create agent").click()
    error = page.locator('.field[data-field="executor_model"] .field-error')
    await expect(error).to_be_visible()
    await executor_model.fill("offline:default")
    await page.get_by_role("button", name="Create agent").click()
    await expect(page.locator("h1")).to_have_text("Planner")
    await expect(page.locator("dl.props")).to_contain_text("Be brief.")
    agents = (await ui_store.admin.get(f"{ui_store.path}/agents")).json()["items"]
    assert [(a["mode"], a["executor_model"], a["executor_system_prompt"]) for a in agents] == [
        ("team", "offline:default", "Be brief.")
    ]

    await page.goto(f"/agents/{agents[0]['id']}/edit")
    await expect(page.get_by_label("Mode", exact=True)).to_have_value("team")
    await expect(executor_model).to_have_value("offline:default")
    await page.get_by_label("Mode", exact=True).select_option("single")
    await expect(executor_model).to_be_hidden()
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("h1")).to_have_text("Planner")
    r = await ui_store.admin.get(f"{ui_store.path}/agents/{agents[0]['id']}")
    assert r.json()["mode"] == "single"


async def test_a_reload_mid_plan_rebuilds_the_panel_and_streams_the_executor_from_there(
    page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    agent = await fake_agent(ui_store, base_url, mode="team", tools=["list_projects"])
    plan = {
        "route": "complex",
        "reason": "one thing to look up",
        "plan": {
            "goal": "look",
            "steps": [{"id": "s1", "title": "Look it up", "instructions": "Look."}],
        },
    }
    executor = Hold(Reply(tool_calls=[ToolCall("list_projects", {}, id="call_x")]))
    llm.push(
        Reply(tool_calls=[ToolCall("team_decide", plan)]),
        executor,
        Reply(text=["found ", "it"]),
        Reply(text=["All done."]),
    )
    await open_session(page, ui_store, str(agent["id"]))
    await send(page, "look it up")
    await llm.wait_for_requests(2)  # the executor's request, held
    step = page.locator(".plan-panel .plan-step")
    await expect(step).to_have_attribute("data-status", "running")
    await expect(step.locator(".executor-status")).to_have_text("running")

    await page.reload()
    await expect(step).to_have_count(1)
    await expect(step).to_have_attribute("data-status", "running")
    await expect(step.locator("details.executor")).to_have_count(1)
    executor.gate.set()
    # its tool call comes only on the executors' stream, reopened by the reload
    await expect(step.locator(".executor-tools li")).to_have_text(["⚙ list_projects"])
    await expect(step.locator(".executor-text")).to_have_text("found it")
    await expect(step).to_have_attribute("data-status", "completed")
    await expect(page.locator(".run-status").last).to_have_attribute("data-status", "completed")
    await expect(page.locator(".msg-assistant .bubble")).to_have_text(["All done."])
    await expect(page.locator(".plan-panel")).to_have_count(1)
    await expect(step.locator("details.executor")).to_have_count(1)
