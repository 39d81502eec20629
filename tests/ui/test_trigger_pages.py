"""The Schedules and Webhooks pages in a real browser: a schedule created with its cron
preview, paused, with its history; a webhook whose secret is shown once, and what it received;
the trigger of a scheduled run on the runs page."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import httpx
import pytest
from playwright.async_api import Page, expect

from loopwright.runtime import signing
from tests.ui.conftest import UiServer, UiStore, hold_first_agents_request


async def test_a_schedule_created_with_a_preview_then_paused(page: Page, ui_store: UiStore) -> None:
    await ui_store.agent(name="reporter")
    await page.goto("/schedules")
    await page.get_by_role("button", name="New schedule").first.click()
    form = page.get_by_role("form", name="New schedule")
    await form.get_by_label("Cron").fill("0 9 * * *")
    await form.get_by_label("Time zone").fill("UTC")
    preview = form.get_by_role("list", name="Next fire times")
    await expect(preview.get_by_role("listitem")).to_have_count(5)
    await form.get_by_label("Cron").fill("61 * * * *")
    await expect(form.get_by_role("alert")).to_contain_text("Bad minute")
    await form.get_by_label("Cron").fill("* * * * * *")
    await expect(preview.get_by_role("listitem")).to_have_count(5)
    await form.get_by_label("Message").fill("status report")
    await form.get_by_role("button", name="Create schedule").click()
    await expect(page.locator("#toasts")).to_contain_text("Schedule created")
    item = page.locator("#schedules-list li", has_text="status report")
    await expect(item).to_contain_text("reporter")
    schedule_id = await item.get_attribute("data-schedule")
    for _ in range(100):  # a fire each second; the history is read when it opens
        fires = await ui_store.admin.get(f"{ui_store.path}/schedules/{schedule_id}/fires")
        if fires.json()["items"]:
            break
        await asyncio.sleep(0.1)
    await item.get_by_text("History").click()
    await expect(item.get_by_role("link").first).to_have_text(re.compile(r"^run_"))
    await page.get_by_role("button", name="Pause * * * * * *").click()
    await expect(page.locator("#toasts")).to_contain_text("Paused")
    await expect(item).to_contain_text("paused")
    await page.goto("/runs")
    await expect(page.locator("main")).to_contain_text("schedule")


async def test_a_webhook_secret_is_shown_once_and_receipts_listed(
    page: Page, ui_store: UiStore, ui_server: UiServer
) -> None:
    await ui_store.agent(name="triage")
    await page.goto("/webhooks")
    await page.get_by_role("button", name="New webhook").first.click()
    form = page.get_by_role("form", name="New webhook")
    await form.get_by_label("Name").fill("tracker")
    await form.get_by_label("Template").fill("Issue: {body.title}")
    await form.get_by_role("button", name="Create webhook").click()
    shown = page.get_by_role("region", name="New webhook secret")
    secret = (await shown.locator("[data-secret]").inner_text()).strip()
    assert re.match(r"^whsec_", secret)
    url = (await shown.locator("code, .mono").first.inner_text()).strip()
    assert "/hooks/whk_" in url

    body = json.dumps({"title": "Printer on fire"}).encode()
    headers = signing.headers(secret, "msg_ui_1", datetime.now(UTC), body)
    async with httpx.AsyncClient(timeout=30) as sender:
        r = await sender.post(url, content=body, headers=headers)
    assert r.status_code == 202, r.text

    await page.reload()  # shown once: gone after a reload
    assert secret not in await page.content()
    item = page.locator("#webhooks-list li", has_text="tracker")
    await expect(item).to_contain_text("/hooks/")
    await item.get_by_text("Received").click()
    await expect(item).to_contain_text("msg_ui_1")


@pytest.mark.parametrize(
    ("path", "button"), [("/schedules", "New schedule"), ("/webhooks", "New webhook")]
)
async def test_a_form_opened_before_the_agents_arrived_offers_them(
    page: Page, ui_store: UiStore, path: str, button: str
) -> None:
    """A click on New schedule (or New webhook) while the page's agents are still on their way
    waits for them: the form's agent list is not empty, so its request names one."""
    await ui_store.agent(name="early")
    held = await hold_first_agents_request(page)
    await page.goto(path)
    agents_request = await held
    await page.get_by_role("button", name=button).first.click()
    await agents_request.continue_()
    await expect(page.get_by_label("Agent")).to_contain_text("early")
