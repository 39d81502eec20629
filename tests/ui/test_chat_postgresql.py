"""A browser smoke on the PostgreSQL server (``live_pg``): a chat streams its run, its tool card
and answer from events stored in PostgreSQL, and a reload shows the same conversation once. The
rest of the browser tests run on the SQLite UI server: the pages use the same API, whose
behaviour on both databases the API tests check."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import Live, Store, in_postgresql
from tests.ui.conftest import Console, sign_in


@pytest.fixture
async def pg_page(browser: Browser, live_pg: Live) -> AsyncIterator[tuple[Page, Store]]:
    """A page of the PostgreSQL server, signed in with the admin key of a new store there."""
    store = await live_pg.new_store("ui-pg")
    assert live_pg.settings.database_url is not None
    assert await in_postgresql(live_pg.settings.database_url, store.id)
    context = await browser.new_context(
        base_url=live_pg.base_url, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    console = Console(page)
    await sign_in(page, await store.key("admin"))
    yield page, store
    await context.close()
    await store.admin.aclose()
    assert not console.csp_violations, console.csp_violations
    assert not [e for e in console.errors if e.startswith("pageerror")], console.errors


async def test_a_chat_on_postgresql_streams_its_run_and_reloads_it_once(
    pg_page: tuple[Page, Store],
) -> None:
    page, store = pg_page
    agent = await store.agent(name="Offline", tools=["create_task"])
    await page.goto(f"/chat?agent={agent['id']}")
    await expect(page.locator(".session-list .empty")).to_contain_text("No sessions yet")
    await page.get_by_role("button", name="New session").click()
    box = page.get_by_role("textbox", name="Message", exact=True)
    await box.fill("create a task called Water the plants")
    await box.press("Enter")

    card = page.locator('.tool-card[data-tool="create_task"]')
    await expect(card).to_have_attribute("data-state", "ok")
    await expect(card.locator(".chip")).to_contain_text("task created: Water the plants")
    await expect(page.locator(".msg-assistant .bubble").last).to_contain_text(
        "Created task 'Water the plants'"
    )
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")

    await page.reload()  # history from PostgreSQL: the same conversation, once
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")
    await expect(page.locator(".msg-user")).to_have_count(1)
    await expect(page.locator('.tool-card[data-state="ok"]')).to_have_count(1)
    await expect(page.locator(".session-item .status")).to_have_text("completed")
