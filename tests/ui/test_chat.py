"""The chat page against real runs: the offline agent's tool card and streamed answer, cancel,
busy policies, a stream cut mid-run, reload, and a phone-width screen."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Page, Route, expect

from tests.llm.fakes import Reply, ToolCall
from tests.scripted import GatedLLM, Hold
from tests.ui.conftest import (
    CONSOLES,
    UiServer,
    UiStore,
    hold_first_agents_request,
    without_rate_limits,
)

WATCH_STREAMING = """() => {
  window.__streamed = [];
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'characterData' && r.target.parentElement?.closest('.stream-text')) {
        window.__streamed.push(r.target.data);
      }
    }
  }).observe(document.body, {subtree: true, characterData: true});
}"""


async def fake_agent(store: UiStore, base_url: str, **fields: object) -> dict[str, object]:
    r = await store.admin.post(
        f"{store.path}/providers",
        json={"name": "fake", "kind": "openai", "base_url": f"{base_url}/v1", "api_key": "sk-t"},
    )
    assert r.status_code == 201, r.text
    return await store.agent(model="fake:gpt-test", **fields)


async def open_session(page: Page, store: UiStore, agent_id: str, **fields: object) -> str:
    session = await store.session(agent_id, **fields)
    await page.goto(f"/chat/{session['id']}")
    await expect(message_box(page)).to_be_visible()
    return str(session["id"])


def message_box(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("textbox", name="Message", exact=True)


async def send(page: Page, text: str) -> None:
    await message_box(page).fill(text)
    await message_box(page).press("Enter")


async def test_chat_with_the_offline_agent_shows_the_tool_card_and_the_streamed_answer(
    page: Page, ui_store: UiStore
) -> None:
    agent = await ui_store.agent(name="Offline", tools=["create_task"])
    await page.goto(f"/chat?agent={agent['id']}")
    await expect(page.locator(".session-list .empty")).to_contain_text("No sessions yet")
    await page.get_by_role("button", name="New session").click()
    await expect(message_box(page)).to_be_focused()
    await page.evaluate(WATCH_STREAMING)
    await message_box(page).fill("create a task called Water the plants")
    await message_box(page).press("Shift+Enter")  # a new line, not a send
    assert await page.locator(".msg-user").count() == 0
    await message_box(page).press("Enter")

    card = page.locator('.tool-card[data-tool="create_task"]')
    await expect(card).to_have_attribute("data-state", "ok")
    await expect(card.locator(".badge")).to_have_text("read-write")
    await expect(card.locator(".chip")).to_contain_text("task created: Water the plants")
    answer = page.locator(".msg-assistant .bubble").last
    await expect(answer).to_contain_text("Created task 'Water the plants'")
    status = page.locator(".run-status")
    await expect(status).to_have_attribute("data-status", "completed")
    await expect(status).to_contain_text("2 steps")
    await expect(page.locator(".msg-user")).to_have_count(1)  # from the POST, not again
    streamed = await page.evaluate("window.__streamed")
    assert streamed, "no token delta reached the growing bubble"
    assert streamed[-1].startswith("[offline] Created task")
    assert await message_box(page).input_value() == ""
    await expect(page.locator(".session-item .status")).to_have_text("completed")
    announced = page.locator(".chat-conv [aria-live=polite]")  # the answer, not its tokens
    await expect(announced).to_have_text("Reply: [offline] Created task 'Water the plants'.")

    await card.get_by_text("Arguments").click()
    await expect(card.locator(".tool-args pre")).to_contain_text('"title": "Water the plants"')

    await page.reload()  # history: the same conversation, once
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")
    await expect(page.locator(".msg-user")).to_have_count(1)
    await expect(page.locator(".tool-card")).to_have_count(1)
    await expect(page.locator('.tool-card[data-state="ok"]')).to_have_count(1)
    # The run inspector: its tool call with outcome and duration.
    await page.get_by_role("button", name="Run details").first.click()
    timing = page.locator("#inspector .tool-timings li")
    await expect(timing).to_have_count(1)
    await expect(timing).to_contain_text(re.compile(r"create_task · ok · \d"))
    assert "null" not in await page.locator("#inspector").inner_text()  # no absent part as text
    # The stored card gets its chip back from the stored events, once.
    await expect(card.locator(".chip")).to_have_text(
        re.compile(r"^task created: Water the plants tsk_")
    )


async def test_new_session_clicked_while_the_page_loads_opens_once_it_has_loaded(
    page: Page, ui_store: UiStore
) -> None:
    """A click on New session before the agents have arrived waits for them, instead of
    saying there is no agent."""
    agent = await ui_store.agent(name="Early")
    held = await hold_first_agents_request(page)
    await page.goto(f"/chat?agent={agent['id']}")
    agents_request = await held
    await page.get_by_role("button", name="New session").click()
    await agents_request.continue_()
    await expect(message_box(page)).to_be_focused()
    await expect(page.locator(".session-item")).to_have_count(1)


async def test_cancel_a_running_run(
    page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    agent = await fake_agent(ui_store, base_url)
    llm.push(Hold(Reply(text=["never ", "sent"])))
    await open_session(page, ui_store, str(agent["id"]))
    await send(page, "think for a long time")
    await llm.wait_for_requests(1)
    status = page.locator(".run-status")
    await expect(status).to_have_attribute("data-status", "running")
    await expect(status).to_contain_text("step 1 of 15")
    await page.get_by_role("button", name="Cancel run").click()
    await expect(status).to_have_attribute("data-status", "cancelled")
    await expect(status).to_contain_text("Cancelled")
    await expect(page.get_by_role("button", name="Cancel run")).to_be_hidden()
    runs = (await ui_store.admin.get(f"{ui_store.path}/runs")).json()["items"]
    assert [r["status"] for r in runs] == ["cancelled"]


async def test_busy_policies_are_said_in_words(
    page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    agent = await fake_agent(ui_store, base_url)
    first = Hold(Reply(text=["first"]))
    llm.push(first, Reply(text=["second"]))
    await open_session(page, ui_store, str(agent["id"]), busy_policy="reject")
    await send(page, "one")
    await llm.wait_for_requests(1)
    await send(page, "two")
    notice = page.locator(".conv-notice")
    await expect(notice).to_contain_text("Not sent: a run is still active")
    await expect(message_box(page)).to_have_value("two")  # kept to send again
    await expect(page.locator(".msg-user")).to_have_count(1)

    await page.get_by_label("When a message arrives during a run").select_option("interrupt")
    await expect(page.locator(".toast")).to_contain_text("interrupt the run")
    await send(page, "two")
    statuses = page.locator(".run-status")
    await expect(statuses.first).to_contain_text("Interrupted by a newer message")
    await expect(statuses.last).to_have_attribute("data-status", "completed")
    await expect(page.locator(".msg-assistant .bubble")).to_have_text(["second"])
    first.gate.set()


async def test_a_cut_stream_reconnects_from_its_last_seq_with_nothing_lost_or_doubled(
    page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    agent = await fake_agent(ui_store, base_url, tools=["create_task"])
    call = Hold(Reply(tool_calls=[ToolCall("create_task", {"title": "Offline chores"})]))
    answer = Hold(Reply(text=["All ", "done ", "now."]))
    llm.push(call, answer)
    await open_session(page, ui_store, str(agent["id"]))
    await send(page, "make a task")
    await llm.wait_for_requests(1)
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "running")

    refused = asyncio.Event()

    async def refuse(route: Route) -> None:
        refused.set()
        await route.fulfill(status=503, body="down")

    await page.route("**/events?*", refuse)  # the network is down: every reconnect fails
    assert await page.evaluate("window.loopwright.dropStreams()") >= 1
    await expect(page.locator(".topbar .live")).to_have_attribute("data-state", "reconnecting")
    call.gate.set()  # meanwhile the run goes on: a tool call, its task, the next model call
    await llm.wait_for_requests(2)
    assert await page.locator(".tool-card").count() == 0  # not seen yet
    await asyncio.wait_for(refused.wait(), 15)  # a reconnect was tried and refused
    await page.unroute("**/events?*")
    await expect(page.locator(".topbar .live")).to_have_attribute("data-state", "live")
    card = page.locator(".tool-card")
    await expect(card).to_have_count(1)
    await expect(card).to_have_attribute("data-state", "ok")
    await expect(card.locator(".chip")).to_contain_text("task created: Offline chores")
    answer.gate.set()
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")
    await expect(page.locator(".msg-assistant .bubble")).to_have_text(["All done now."])
    await expect(page.locator(".msg-user")).to_have_count(1)
    await expect(page.locator(".tool-card")).to_have_count(1)
    stats = await page.evaluate("window.loopwright.streamStats()")
    chat = next(s for s in stats if s["label"] == "chat")
    assert chat["reconnects"] >= 1
    events = (
        await ui_store.admin.get(f"{ui_store.path}/events", params={"types": "run.completed"})
    ).json()["items"]
    assert chat["lastSeq"] >= events[-1]["seq"]  # it saw the run's last event


async def test_a_reload_mid_run_resumes_the_stream(
    page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    agent = await fake_agent(ui_store, base_url)
    held = Hold(Reply(text=["after ", "reload"]))
    llm.push(held)
    await open_session(page, ui_store, str(agent["id"]))
    await send(page, "hello")
    await llm.wait_for_requests(1)
    await page.reload()
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "running")
    await expect(page.get_by_role("button", name="Cancel run")).to_be_visible()
    held.gate.set()
    await expect(page.locator(".msg-assistant .bubble")).to_have_text(["after reload"])
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")
    await expect(page.locator(".msg-user")).to_have_count(1)


async def test_a_long_session_opens_on_its_newest_page_and_loads_older_on_scroll(
    page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str], ui_server: UiServer
) -> None:
    llm, base_url = fake
    await without_rate_limits(ui_server, ui_store)  # 30 messages in a minute
    agent = await fake_agent(ui_store, base_url)
    session = await ui_store.session(str(agent["id"]))
    for i in range(30):
        llm.push(Reply(text=[f"answer {i}"]))
        r = await ui_store.admin.post(
            f"{ui_store.path}/sessions/{session['id']}/messages",
            json={"content": f"question {i}", "wait": True},
        )
        assert r.status_code == 200, r.text
    await page.goto(f"/chat/{session['id']}")
    bubbles = page.locator(".msg-assistant .bubble")
    await expect(bubbles.last).to_have_text("answer 29")
    assert await page.locator(".msg-user").count() == 25  # 50 messages: the newest page
    await page.locator(".conv-scroll").evaluate("el => el.scrollTop = 0")
    await expect(page.locator(".msg-user")).to_have_count(30)
    await expect(page.locator(".msg-user .bubble").first).to_have_text("question 0")
    await expect(page.get_by_role("button", name="Load older messages")).to_be_hidden()
    texts = await page.locator(".msg-user .bubble").all_inner_texts()
    assert texts == [f"question {i}" for i in range(30)]


async def test_the_chat_at_phone_width_shows_one_column_at_a_time(
    page: Page, ui_store: UiStore
) -> None:
    agent = await ui_store.agent(name="Pocket")
    session = await ui_store.session(str(agent["id"]), title="On the train")
    await page.set_viewport_size({"width": 390, "height": 800})
    await page.goto("/chat")
    await expect(page.locator(".chat-sessions")).to_be_visible()
    await expect(page.locator(".chat-conv")).to_be_hidden()
    await page.get_by_role("link", name="On the train").click()
    await expect(page).to_have_url(f"/chat/{session['id']}")
    await expect(page.locator(".chat-sessions")).to_be_hidden()
    await expect(message_box(page)).to_be_visible()
    await send(page, "hello")
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    await page.go_back()  # the back button returns to the list
    await expect(page.locator(".chat-sessions")).to_be_visible()
    await expect(page.locator(".chat-conv")).to_be_hidden()
    await page.get_by_role("button", name="Menu").click()
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()


async def test_untrusted_text_is_never_run_as_html(
    page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    agent = await fake_agent(ui_store, base_url)
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    llm.push(Reply(text=[f"**bold** {hostile} [x](javascript:window.__pwned=3)"]))
    await open_session(page, ui_store, str(agent["id"]), title=f"<b>{hostile}</b>")
    await send(page, f"<i>{hostile}</i>")
    answer = page.locator(".msg-assistant .bubble")
    await expect(answer.locator("strong")).to_have_text("bold")  # markdown, sanitized
    await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")
    assert await page.locator(".conv-list img, .conv-list script, .conv-list i").count() == 0
    await expect(page.locator(".msg-user .bubble")).to_have_text(f"<i>{hostile}</i>")
    await expect(page.locator(".conv-title")).to_have_text(f"<b>{hostile}</b>")
    link = answer.locator("a")
    assert await link.count() == 0 or not str(await link.get_attribute("href")).startswith(
        "javascript"
    )
    assert await page.evaluate("window.__pwned") is None
    # The sanitizer's own (inert) parse of the hostile HTML makes Chrome report the inline
    # handler it saw: the CSP is the second wall. Nothing else may have been refused.
    csp = CONSOLES[page].csp_violations
    assert csp and all("inline event handler" in e for e in csp), csp
    CONSOLES[page].errors.clear()


async def test_reasoning_is_collapsed_and_a_queued_message_says_it_waits(
    page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    agent = await fake_agent(ui_store, base_url)
    first = Hold(Reply(reasoning=["weighing ", "options"], text=["first answer"]))
    llm.push(first, Reply(text=["second answer"]))
    await open_session(page, ui_store, str(agent["id"]))  # busy policy: enqueue
    await send(page, "one")
    await llm.wait_for_requests(1)
    await send(page, "two")
    statuses = page.locator(".run-status")
    await expect(statuses).to_have_count(2)
    await expect(statuses.last).to_contain_text("waits for the run before it")
    await expect(statuses.last).to_have_attribute("data-status", "queued")
    # Its place in the store's queue, from GET /runs/{id}: next, once that run ends.
    await expect(statuses.last).to_contain_text(
        "Queued · next to start · after this conversation's earlier run"
    )
    first.gate.set()
    await expect(statuses.last).to_have_attribute("data-status", "completed")
    await expect(statuses.first).to_have_attribute("data-status", "completed")
    reasoning = page.locator("details.reasoning")
    await expect(reasoning).to_have_count(1)
    await expect(reasoning).not_to_have_attribute("open", "")
    await expect(reasoning).to_contain_text("weighing options")
    blocks = page.locator(".run-block")  # each answer in its own run's block, in order
    await expect(blocks.first.locator(".msg-assistant")).to_have_text("Assistant: first answer")
    await expect(blocks.last.locator(".msg-assistant")).to_have_text("Assistant: second answer")


async def test_rename_and_delete_a_session(page: Page, ui_store: UiStore) -> None:
    agent = await ui_store.agent(name="Keeper")
    kept = await ui_store.session(str(agent["id"]), title="Keep me")
    doomed = await ui_store.session(str(agent["id"]), title="Old notes")
    await page.goto(f"/chat/{doomed['id']}")
    items = page.locator(".session-item")
    await expect(items).to_have_count(2)
    await expect(items.first).to_contain_text("Old notes")  # newest first
    await page.get_by_role("button", name="Rename Old notes").click()
    dialog = page.get_by_role("dialog", name="Rename session")
    await dialog.get_by_label("Title").fill("Fresh notes")
    await dialog.get_by_label("Title").press("Enter")
    await expect(page.locator(".conv-title")).to_have_text("Fresh notes")
    await expect(items.first).to_contain_text("Fresh notes")
    await page.get_by_role("button", name="Delete Fresh notes").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(items).to_have_count(1)
    await expect(page).to_have_url("/chat")
    r = await ui_store.admin.get(f"{ui_store.path}/sessions")
    assert [(s["id"], s["title"]) for s in r.json()["items"]] == [(kept["id"], "Keep me")]
