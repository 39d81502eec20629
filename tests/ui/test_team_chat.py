"""The chat page with a team agent: the plan panel shows the routing decision, the steps
reaching completed with their executors' output nested, the synthesis as the reply, and a
reload rebuilds the same panel once; the run page shows the plan with its token totals."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.ui.conftest import UiStore
from tests.ui.test_chat import open_session, send

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

    run_link = page.locator(".run-status .run-link").last
    await run_link.click()
    plan = page.locator("#run-plan")
    await expect(plan.locator(".plan-step")).to_have_count(2)
    await expect(plan).to_contain_text("Total")


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
