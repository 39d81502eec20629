"""Signing in and out, the role shown and respected, and the Agents pages."""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page, expect

from tests.ui.conftest import UiStore, sign_in


async def test_sign_in_shows_the_store_and_role_and_sign_out_forgets_the_key(
    context: BrowserContext, ui_store: UiStore
) -> None:
    page = await context.new_page()
    await page.goto("/agents")
    await page.get_by_label("API key").fill("lw_not_a_key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator('.field[data-field="key"] .field-error')).to_have_text(
        "This key is not valid."
    )
    await page.get_by_label("API key").fill(ui_store.key)
    await page.get_by_role("button", name="Sign in").click()
    top = page.locator(".topbar")
    await expect(top).to_contain_text(ui_store.id)
    await expect(top.locator(".role")).to_have_text("admin")
    await expect(top.locator(".live")).to_have_attribute("data-state", "live")
    assert page.url.endswith("/agents")  # back where the user was going
    stored = await page.evaluate("Object.values(sessionStorage)")
    assert ui_store.key in stored
    assert ui_store.key not in page.url
    await page.locator("main").press("?")  # the shortcut list; Esc closes it
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(shortcuts).to_contain_text("Shift+Enter")
    await page.keyboard.press("Escape")
    await expect(shortcuts).to_be_hidden()
    await page.keyboard.press("g")
    await page.keyboard.press("c")
    await expect(page).to_have_url("/chat")
    await page.go_back()
    await expect(page).to_have_url("/agents")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("API key")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('loopwright.key')") is None


async def test_a_readonly_key_sees_disabled_actions_and_no_settings(
    context: BrowserContext, ui_store: UiStore
) -> None:
    agent = await ui_store.agent()
    page = await context.new_page()
    await sign_in(page, await ui_store.key_of("readonly"), f"/agents/{agent['id']}")
    await expect(page.locator(".topbar .role")).to_have_text("readonly")
    await expect(page.get_by_role("button", name="Delete")).to_be_disabled()
    assert await page.locator(".guarded").first.get_attribute("title") == "Needs the admin role"
    await expect(page.locator(".sidenav")).not_to_contain_text("Settings")
    await expect(page.locator(".sidenav")).to_contain_text("Agents")


async def test_create_an_agent_with_a_422_shown_next_to_its_field(
    page: Page, ui_store: UiStore
) -> None:
    await page.goto("/agents")
    await expect(page.locator(".empty")).to_contain_text("No agents yet")
    await page.get_by_role("link", name="New agent").click()
    name = page.get_by_label("Name", exact=True)
    await name.fill("no!good")
    await page.get_by_label("Max steps").fill("500")
    await page.get_by_role("button", name="Create agent").click()
    name_error = page.locator('.field[data-field="name"] .field-error')
    await expect(name_error).to_contain_text("String should match pattern")
    await expect(name).to_have_attribute("aria-invalid", "true")
    await expect(page.locator('.field[data-field="max_steps"] .field-error')).to_contain_text(
        "less than or equal to 100"
    )
    await name.fill("Helper One")
    await page.get_by_label("Max steps").fill("7")
    await page.get_by_role("checkbox", name="create_task").check()
    await page.get_by_role("button", name="Create agent").click()
    await expect(page.locator("h1")).to_have_text("Helper One")
    await expect(page.locator("dl.props")).to_contain_text("create_task")
    agents = (await ui_store.admin.get(f"{ui_store.path}/agents")).json()["items"]
    assert [(a["name"], a["max_steps"], a["tools"]) for a in agents] == [
        ("Helper One", 7, ["create_task"])
    ]

    await page.get_by_role("button", name="Disable").click()
    await expect(page.locator("dl.props .status")).to_have_text("disabled")
    await page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Delete Helper One?")
    await page.keyboard.press("Escape")  # Esc closes, nothing deleted
    await expect(dialog).to_be_hidden()
    assert len((await ui_store.admin.get(f"{ui_store.path}/agents")).json()["items"]) == 1
    await page.get_by_role("button", name="Delete").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(page).to_have_url("/agents")
    assert (await ui_store.admin.get(f"{ui_store.path}/agents")).json()["items"] == []


async def test_agents_list_filters_by_search_and_status_in_the_url(
    page: Page, ui_store: UiStore
) -> None:
    await ui_store.agent(name="Alpha", description="books flights")
    await ui_store.agent(name="Beta", status="disabled")
    await page.goto("/agents")
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(2)
    await page.get_by_label("Search agents").fill("flights")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("Alpha")
    assert "q=flights" in page.url
    await page.get_by_label("Search agents").fill("")
    await page.get_by_label("Status").select_option("disabled")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("Beta")
    await page.reload()  # the filter is bookmarkable
    await expect(page.get_by_label("Status")).to_have_value("disabled")
    await expect(rows).to_have_count(1)
