"""Tool approvals and the store's limits in a real browser: the approval card in the chat
(edit and approve, reject with a reason), the pending list and the usage meters on the
Settings page, and the rollout switch saved from it."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.ui.conftest import UiStore
from tests.ui.test_chat import message_box, open_session, send


async def tasks(store: UiStore) -> list[str]:
    r = await store.admin.get(f"{store.path}/tasks")
    return [t["title"] for t in r.json()["items"]]


async def test_the_chat_card_edits_and_approves_a_held_call(page: Page, ui_store: UiStore) -> None:
    agent = await ui_store.agent(name="Careful", tools=["create_task"], approval="read_write")
    await open_session(page, ui_store, str(agent["id"]))
    await send(page, "create a task called Water the plants")
    card = page.locator(".approval-card")
    await expect(card).to_contain_text("create_task")
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "waiting")
    assert await tasks(ui_store) == []
    await card.get_by_role("button", name="Edit").click()
    await card.get_by_label("Arguments").fill('{"title": "Water the roses"}')
    await card.get_by_role("button", name="Approve").click()
    await expect(card).to_have_attribute("data-status", "approved")
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")
    assert await tasks(ui_store) == ["Water the roses"]
    await expect(message_box(page)).to_be_visible()


async def test_the_chat_card_rejects_with_a_reason_and_bad_arguments_are_shown(
    page: Page, ui_store: UiStore
) -> None:
    agent = await ui_store.agent(name="Held", tools=["create_task"], approval="always")
    await open_session(page, ui_store, str(agent["id"]))
    await send(page, "create a task called Buy milk")
    card = page.locator(".approval-card")
    await expect(card).to_contain_text("create_task")
    await card.get_by_role("button", name="Edit").click()
    await card.get_by_label("Arguments").fill('{"title": 5}')
    await card.get_by_role("button", name="Approve").click()
    await expect(card.locator(".field-error").first).to_be_visible()
    await card.get_by_label("Reason (for a rejection)").fill("we have milk")
    await card.get_by_role("button", name="Reject").click()
    await expect(card).to_have_attribute("data-status", "rejected")
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")
    assert await tasks(ui_store) == []


async def test_settings_show_usage_pending_approvals_and_save_the_switch(
    page: Page, ui_store: UiStore
) -> None:
    agent = await ui_store.agent(name="Waiting", tools=["create_task"], approval="always")
    chat = await ui_store.session(str(agent["id"]))
    r = await ui_store.admin.post(
        f"{ui_store.path}/sessions/{chat['id']}/messages",
        json={"content": "create a task called Later"},
    )
    assert r.status_code == 202, r.text
    await page.goto("/settings")
    pending = page.locator("#approvals-list .approval-card")
    await expect(pending).to_have_count(1)
    await expect(pending).to_contain_text("create_task")
    runs = page.locator('[data-meter="Runs this minute"]')
    await expect(runs).to_contain_text("1 of 20")
    await expect(page.locator("#operator-limits")).to_contain_text("30,000")
    form = page.get_by_role("form", name="Store settings")
    await form.get_by_label("Runs enabled").uncheck()
    await form.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#limit-meters")).to_contain_text("Runs are switched off")
    r = await ui_store.admin.post(
        f"{ui_store.path}/sessions/{chat['id']}/messages", json={"content": "again"}
    )
    assert r.status_code == 503
    await pending.get_by_role("button", name="Reject").click()
    await expect(pending).to_have_attribute("data-status", "rejected")


async def test_the_agent_form_sets_the_approval_policy_and_per_tool_overrides(
    page: Page, ui_store: UiStore
) -> None:
    agent = await ui_store.agent(name="Trusting", tools=["create_task", "list_tasks"])
    await page.goto(f"/agents/{agent['id']}/edit")
    await page.get_by_label("Approval", exact=True).select_option("read_write")
    await page.get_by_label("Approval for list_tasks").select_option("always")
    await page.get_by_label("Approval for create_task").select_option("never")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#toasts")).to_contain_text("Saved Trusting")
    r = await ui_store.admin.get(f"{ui_store.path}/agents/{agent['id']}")
    saved = r.json()
    assert (saved["approval"], saved["tool_approvals"]) == (
        "read_write",
        {"list_tasks": "always", "create_task": "never"},
    )
    await expect(page.locator("dl.props")).to_contain_text("read-write: calls of tools that write")
    await expect(page.locator("dl.props")).to_contain_text("always asks")
    # Back to the policy's own answer: the override is dropped, not kept as "never".
    await page.goto(f"/agents/{agent['id']}/edit")
    await expect(page.get_by_label("Approval", exact=True)).to_have_value("read_write")
    await page.get_by_label("Approval for create_task").select_option("")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#toasts")).to_contain_text("Saved Trusting")
    r = await ui_store.admin.get(f"{ui_store.path}/agents/{agent['id']}")
    assert r.json()["tool_approvals"] == {"list_tasks": "always"}


async def test_the_approvals_page_follows_held_calls_live_and_filters_decisions(
    page: Page, ui_store: UiStore
) -> None:
    agent = await ui_store.agent(name="Asker", tools=["create_task"], approval="always")
    chat = await ui_store.session(str(agent["id"]))
    await page.goto("/approvals")
    await expect(page.locator("#approvals-page-list")).to_contain_text("No tool call is waiting")
    r = await ui_store.admin.post(
        f"{ui_store.path}/sessions/{chat['id']}/messages",
        json={"content": "create a task called Pay rent"},
    )
    assert r.status_code == 202, r.text
    card = page.locator("#approvals-page-list .approval-card")  # live: no reload
    await expect(card).to_have_count(1)
    await expect(page.locator("#approvals-page-list")).to_contain_text("Asker")
    await card.get_by_role("button", name="Approve").click()
    await expect(card).to_have_attribute("data-status", "approved")
    await page.get_by_label("Status").select_option("approved")
    await expect(page).to_have_url(re.compile(r"status=approved"))
    decided = page.locator("#approvals-page-list .approval-card")
    await expect(decided).to_have_count(1)
    await expect(decided).to_have_attribute("data-status", "approved")
    await expect(decided.get_by_role("button", name="Approve")).to_be_disabled()
    await page.get_by_label("Status").select_option("rejected")
    await expect(page.locator("#approvals-page-list")).to_contain_text("No approvals match")
