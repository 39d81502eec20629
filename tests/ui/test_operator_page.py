"""The operator's page in a real browser: every store with its last day, a store created from
the form (its 422 and 409 next to the field), and "Open" moving the tab into another store."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Browser, BrowserContext, expect

from tests.procs import OPERATOR_KEY
from tests.ui.conftest import UiServer, UiStore, sign_in
from tests.ui.test_pages import axe_violations
from tests.ui.test_ui_pages import run_offline


async def test_the_operator_sees_every_store_creates_one_and_opens_it(
    context: BrowserContext, ui_store: UiStore
) -> None:
    run = await run_offline(ui_store, "builder", "Create a project called Home")
    tokens = run["usage"]["input_tokens"] + run["usage"]["output_tokens"]
    page = await context.new_page()
    await page.goto("/operator")
    await page.get_by_label("API key").fill(OPERATOR_KEY)
    await page.get_by_label("Store").fill(ui_store.id)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Operator")).to_be_visible()
    row = page.locator(f'tr[data-store="{ui_store.id}"]')
    await expect(row).to_contain_text("this tab's store")
    await expect(row.locator('[data-label="Runs (24 h)"]')).to_have_text("1")
    await expect(row.locator('[data-label="Tokens (24 h)"]')).to_have_text(str(tokens))
    # The UI server's own worker, beating.
    worker = page.locator("#workers-list tr[data-worker]")
    await expect(worker).to_have_count(1)
    await expect(worker).to_have_attribute("data-state", "alive")

    form = page.get_by_role("form", name="Create a store")
    await form.get_by_label("Store id").fill("Not A Slug!")
    await form.get_by_role("button", name="Create store").click()
    await expect(form.locator('[data-field="id"] .field-error')).to_be_visible()
    made = f"op-{uuid.uuid4().hex[:8]}"
    await form.get_by_label("Store id").fill(made)
    await form.get_by_label("Name (optional)").fill("Made here")
    await form.get_by_role("button", name="Create store").click()
    created = page.locator(f'tr[data-store="{made}"]')
    await expect(created).to_contain_text("Made here")
    await form.get_by_label("Store id").fill(made)
    await form.get_by_role("button", name="Create store").click()
    await expect(page.locator("#toasts")).to_contain_text("already exists")

    await created.get_by_role("button", name=f"Open {made}").click()
    await expect(page).to_have_url(re.compile(r"/chat$"))
    await expect(page.locator(".topbar")).to_contain_text(made)


async def test_a_store_key_has_no_operator_page(context: BrowserContext, ui_store: UiStore) -> None:
    page = await context.new_page()
    await sign_in(page, ui_store.key, "/operator")
    await expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Operator")
    await expect(page.locator("main")).to_contain_text("may not open this page")


async def test_the_operator_page_accessibility(
    browser: Browser, ui_server: UiServer, ui_store: UiStore
) -> None:
    context = await browser.new_context(base_url=ui_server.base_url, bypass_csp=True)
    try:
        page = await context.new_page()
        await page.goto("/operator")
        await page.get_by_label("API key").fill(OPERATOR_KEY)
        await page.get_by_label("Store").fill(ui_store.id)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator(f'tr[data-store="{ui_store.id}"]')).to_be_visible()
        assert await axe_violations(page) == []
    finally:
        await context.close()
