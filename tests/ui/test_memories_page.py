"""The Memories page in a real browser: memories filtered, searched (stemmed), added, edited
and deleted; a suggestion approved after an edit and another rejected; the chat's run details
list the memories a run used; axe-core finds no serious violation on the page."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.ui.conftest import AXE_JS, UiServer, UiStore, sign_in


async def reflect_on(store: UiStore, agent_id: str, *messages: str) -> None:
    session = await store.session(agent_id)
    for content in messages:
        r = await store.admin.post(
            f"{store.path}/sessions/{session['id']}/messages",
            json={"content": content, "wait": True},
        )
        assert r.status_code == 200, r.text
    r = await store.admin.post(f"{store.path}/sessions/{session['id']}/reflect")
    assert r.status_code == 202, r.text
    r = await store.admin.post(
        f"{store.path}/runs/{r.json()['run_id']}/wait", params={"timeout_s": 30}
    )
    assert r.json()["status"] == "completed"


async def memory(store: UiStore, agent_id: str, content: str, **fields: Any) -> None:
    body = {"agent_id": agent_id, "content": content, **fields}
    r = await store.admin.post(f"{store.path}/memories", json=body)
    assert r.status_code == 201, r.text


async def test_memories_listed_filtered_added_edited_deleted(page: Page, ui_store: UiStore) -> None:
    agent = await ui_store.agent(name="Keeper", memory=True)
    await memory(ui_store, agent["id"], "Invoice March was paid late", type="fact")
    await memory(ui_store, agent["id"], "Prefers short answers", type="preference", importance=0.9)
    await page.goto("/memories")
    cards = page.get_by_role("list", name="Memories")
    await expect(cards.locator("li")).to_have_count(2)
    await expect(cards).to_contain_text("importance 90%")
    await expect(cards).to_contain_text("used 0 times")
    await page.get_by_role("searchbox", name="Search").fill("invoices")
    await expect(cards.locator("li")).to_have_count(1)
    await expect(cards).to_contain_text("Invoice March")
    await page.get_by_role("searchbox", name="Search").fill("")
    await page.get_by_label("Type").select_option("preference")
    await expect(cards.locator("li")).to_have_count(1)
    await page.get_by_label("Type").select_option("")

    await page.get_by_role("button", name="Add memory").first.click()
    form = page.get_by_role("form", name="New memory")
    await form.get_by_label("Content").fill("x" * 10)
    await form.get_by_label("Importance (0 to 1)").fill("3")
    await form.get_by_role("button", name="Add memory").click()
    await expect(form).to_contain_text("less than or equal to 1")  # the API's 422, by its field
    await form.get_by_label("Importance (0 to 1)").fill("0.4")
    await form.get_by_label("Content").fill("The office is in Lyon")
    await form.get_by_role("button", name="Add memory").click()
    await expect(cards.locator("li")).to_have_count(3)

    await page.get_by_role("button", name="Edit memory: The office is in Lyon").click()
    form = page.get_by_role("form", name="Edit memory")
    await form.get_by_label("Content").fill("The office is in Paris")
    await form.get_by_role("button", name="Save").click()
    await expect(cards).to_contain_text("The office is in Paris")
    await page.get_by_role("button", name="Delete memory: The office is in Paris").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(cards.locator("li")).to_have_count(2)


async def test_suggestions_reviewed_and_memories_shown_in_the_chat(
    page: Page, ui_store: UiStore
) -> None:
    agent = await ui_store.agent(name="Reflective", memory=True)
    await reflect_on(
        ui_store,
        agent["id"],
        "remember that I prefer short answers",
        "remember that my cat is Miso",
    )
    await page.goto("/memories")
    queue = page.get_by_role("list", name="Suggestions")
    await expect(queue.locator("li")).to_have_count(2)
    await page.get_by_role("button", name="Edit and approve: I prefer short answers").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Content").fill("Prefers very short answers")
    await dialog.get_by_role("button", name="Approve").click()
    await page.get_by_role("button", name="Reject: My cat is Miso").click()
    await expect(queue).to_have_count(0)
    cards = page.get_by_role("list", name="Memories")
    await expect(cards).to_contain_text("Prefers very short answers")
    await expect(cards).to_contain_text("from suggestion")

    session = await ui_store.session(agent["id"])
    r = await ui_store.admin.post(
        f"{ui_store.path}/sessions/{session['id']}/messages",
        json={"content": "how long should answers be?", "wait": True},
    )
    assert r.status_code == 200, r.text
    await page.goto(f"/chat/{session['id']}")
    await page.get_by_role("button", name="Run details").first.click()
    used = page.locator("section.memories-used")
    await expect(used).to_contain_text("Memories used (1)")
    await expect(used).to_contain_text("Prefers very short answers")


async def test_memories_page_accessibility(
    browser: Browser, ui_server: UiServer, ui_store: UiStore
) -> None:
    agent = await ui_store.agent(name="Axe", memory=True)
    await memory(ui_store, agent["id"], "Prefers tea", type="preference", shared=True)
    await reflect_on(ui_store, agent["id"], "remember that I prefer coffee")
    context = await browser.new_context(base_url=ui_server.base_url, bypass_csp=True)
    try:
        page = await context.new_page()
        await sign_in(page, ui_store.key, "/memories")
        await expect(page.get_by_role("list", name="Suggestions")).to_be_visible()
        await expect(page.locator("main [aria-busy=true]")).to_have_count(0)
        await page.add_script_tag(path=str(AXE_JS))
        bad = await page.evaluate(
            """async () => {
              const r = await axe.run(document, {resultTypes: ['violations']});
              return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
                .map(v => [v.id, v.nodes.slice(0, 3).map(n => n.target.join(' '))]);
            }"""
        )
        assert bad == []
    finally:
        await context.close()


async def test_memory_turned_on_in_the_agent_form(page: Page, ui_store: UiStore) -> None:
    agent = await ui_store.agent(name="Forgetful")
    await page.goto(f"/agents/{agent['id']}/edit")
    await page.get_by_label("Give runs the most relevant memories").check()
    await page.get_by_label("Memory budget (tokens)").fill("-5")
    await page.get_by_role("button", name="Save").click()
    budget = page.locator("[data-field=memory_budget_tokens]")
    await expect(budget).to_contain_text("greater than or equal to 0")
    await page.get_by_label("Memory budget (tokens)").fill("800")
    await page.get_by_label("Reflect after idle (s)").fill("600")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#toasts")).to_contain_text("Saved Forgetful")
    r = await ui_store.admin.get(f"{ui_store.path}/agents/{agent['id']}")
    saved = r.json()
    assert (saved["memory"], saved["memory_budget_tokens"], saved["reflect_idle_s"]) == (
        True,
        800,
        600,
    )


async def test_the_chat_shows_suggested_memories_to_keep_edit_or_discard(
    page: Page, ui_store: UiStore
) -> None:
    agent = await ui_store.agent(name="Noter", memory=True)
    session = await ui_store.session(agent["id"])
    for content in ("remember that I prefer tea", "remember that the office is in Lyon"):
        r = await ui_store.admin.post(
            f"{ui_store.path}/sessions/{session['id']}/messages",
            json={"content": content, "wait": True},
        )
        assert r.status_code == 200, r.text
    await page.goto(f"/chat/{session['id']}")
    await expect(page.locator(".run-status")).to_have_count(2)
    r = await ui_store.admin.post(f"{ui_store.path}/sessions/{session['id']}/reflect")
    assert r.status_code == 202, r.text
    notes = page.get_by_role("complementary", name="Suggested memory")
    await expect(notes).to_have_count(2)  # live, under the reflection run
    await page.reload()  # still pending: read back with the conversation
    await expect(notes).to_have_count(2)
    tea = notes.filter(has_text="I prefer tea")
    await tea.get_by_role("button", name="Keep").click()
    await expect(tea).to_have_attribute("data-status", "approved")
    lyon = notes.filter(has_text="The office is in Lyon")
    await lyon.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit the suggested memory")
    await dialog.get_by_label("Content").fill("The office is in Lyon, 3rd floor")
    await dialog.get_by_role("button", name="Keep").click()
    await expect(lyon).to_have_attribute("data-status", "approved")
    r = await ui_store.admin.get(f"{ui_store.path}/memories", params={"agent_id": agent["id"]})
    assert sorted(m["content"] for m in r.json()["items"]) == [
        "I prefer tea",
        "The office is in Lyon, 3rd floor",
    ]
