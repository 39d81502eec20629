"""The Workspace page in a real browser: tasks searched (stemmed words) and filtered, a document
rendered as sanitized markdown, a task's status set from its page, a task made while the list is
open appearing live, and the chat's chip leading to the object it names."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from tests.ui.conftest import UiStore
from tests.ui.test_chat import open_session, send


async def made(store: UiStore, kind: str, **fields: Any) -> dict[str, Any]:
    r = await store.admin.post(f"{store.path}/{kind}", json=fields)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_workspace_lists_searches_renders_and_sets_a_task_status(
    page: Page, ui_store: UiStore
) -> None:
    home = await made(ui_store, "projects", name="Home")
    milk = await made(ui_store, "tasks", title="Buy milk", project_id=home["id"])
    await made(ui_store, "tasks", title="Pay the invoices", status="done")
    await made(
        ui_store,
        "documents",
        title="Invoices",
        content="# March\n\nPaid <script>window.__pwned = 1</script>late.",
    )
    await page.goto("/workspace")
    tasks = page.get_by_role("list", name="Tasks")
    await expect(tasks.locator("li")).to_have_count(2)
    await expect(tasks.locator(f'[data-object="{milk["id"]}"]')).to_contain_text("Home")
    await page.get_by_label("Status").select_option("done")
    await expect(tasks.locator("li")).to_have_count(1)
    await expect(tasks).to_contain_text("Pay the invoices")
    await page.get_by_label("Status").select_option("")
    await page.get_by_role("searchbox", name="Search").fill("milk")
    await expect(tasks.locator("li")).to_have_count(1)
    await expect(tasks).to_contain_text("Buy milk")

    await page.get_by_role("searchbox", name="Search").fill("invoice")  # stemmed: "Invoices"
    await page.get_by_label("Kind").select_option("documents")
    documents = page.get_by_role("list", name="Documents")
    await expect(documents.locator("li")).to_have_count(1)
    await documents.get_by_role("link", name="Invoices").click()
    await expect(page.locator("#workspace-object h1").first).to_have_text("Invoices")
    await expect(page.locator(".markdown h1")).to_have_text("March")
    assert await page.evaluate("window.__pwned") is None

    await page.goto(f"/workspace/tasks/{milk['id']}")
    await expect(page.locator("#workspace-object")).to_contain_text("Home")
    await page.get_by_label("Task status").select_option("done")
    await expect(page.locator("#toasts")).to_contain_text("Marked done")
    r = await ui_store.admin.get(f"{ui_store.path}/tasks/{milk['id']}")
    assert r.json()["status"] == "done"

    await page.goto("/workspace?kind=tasks")
    await expect(tasks.locator("li")).to_have_count(2)
    await made(ui_store, "tasks", title="Water the plants")  # while the list is open
    await expect(tasks.locator("li")).to_have_count(3)


async def test_a_chip_in_the_chat_leads_to_its_task(page: Page, ui_store: UiStore) -> None:
    agent = await ui_store.agent(name="Maker", tools=["create_task"])
    await open_session(page, ui_store, str(agent["id"]))
    await send(page, "create a task called Call the plumber")
    chip = page.locator(".tool-card .chip")
    await expect(chip).to_contain_text("task created: Call the plumber")
    await chip.get_by_role("link", name="Call the plumber").click()
    await expect(page).to_have_url(re.compile(r"/workspace/tasks/tsk_"))
    await expect(page.locator("#workspace-object h1")).to_have_text("Call the plumber")
