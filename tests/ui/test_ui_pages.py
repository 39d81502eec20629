"""The Tools & MCP, Runs, Dashboard and Settings pages in a real browser (the session's
chromium and server, tests/ui/conftest.py), with real loopback targets: an HTTP server the HTTP
tool calls and an MCP server (the SDK's) registered and checked from the page."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from tests.llm.fakes import Reply, ToolCall, serve
from tests.mcp_servers import demo_server, serve_mcp
from tests.scripted import GatedLLM, Hold
from tests.test_http_tools import Target, target_app
from tests.ui.conftest import AXE_JS, UiServer, UiStore, sign_in, without_rate_limits


async def send(store: UiStore, session_id: str, content: str) -> dict[str, Any]:
    r = await store.admin.post(
        f"{store.path}/sessions/{session_id}/messages", json={"content": content, "wait": True}
    )
    assert r.status_code == 200, r.text
    return dict(r.json()["run"])


async def run_offline(store: UiStore, agent_name: str, content: str) -> dict[str, Any]:
    agent = await store.agent(name=agent_name, tools=["create_project", "create_task"])
    return await send(store, (await store.session(agent["id"]))["id"], content)


async def failed_run(store: UiStore) -> dict[str, Any]:
    """A run of an agent whose provider is gone: it fails before any model step."""
    r = await store.admin.post(f"{store.path}/providers", json={"name": "gone", "kind": "openai"})
    assert r.status_code == 201, r.text
    agent = await store.agent(name="doomed", model="gone:m")
    assert (await store.admin.delete(f"{store.path}/providers/{r.json()['id']}")).status_code == 204
    run = await send(store, (await store.session(agent["id"]))["id"], "hi")
    assert run["status"] == "failed"
    return run


async def me_status(server: UiServer, key: str) -> int:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        r = await client.get("/v1/me", headers={"Authorization": f"Bearer {key}"})
        return r.status_code


async def test_http_tool_created_and_tested_from_the_page(page: Page, ui_store: UiStore) -> None:
    target = Target(asyncio.Event())
    async with serve(target_app(target)) as target_url:
        await page.goto("/tools")
        await page.get_by_role("button", name="New HTTP tool").first.click()
        form = page.get_by_role("form", name="New HTTP tool")
        await form.get_by_label("Name").fill("lookup")
        await form.get_by_label("Description").fill("Look an item up")
        await form.get_by_label("URL template").fill(f"{target_url}/echo/items/{{item}}")
        await form.get_by_label("Method").select_option("GET")
        schema = {
            "type": "object",
            "properties": {"item": {"type": "string"}},
            "required": ["item"],
        }
        await form.get_by_label("Parameters (JSON Schema)").fill(json.dumps(schema))
        await form.get_by_role("button", name="Add header").click()
        await form.get_by_label("Header 1 name").fill("Authorization")
        await form.get_by_label("Header 1 value").fill("Bearer tool-secret-42")
        await form.get_by_label("Read-only").check()
        await form.get_by_role("button", name="Create tool").click()

        item = page.locator("li[data-tool=lookup]")
        await expect(item).to_contain_text("secret headers: Authorization")
        await expect(item).to_contain_text("read-only")
        await expect(page.locator("#toasts")).to_contain_text("Created lookup")
        assert "tool-secret-42" not in await page.content()

        await item.get_by_role("button", name="Test lookup").click()
        dialog = page.get_by_role("dialog", name="Test lookup")
        await dialog.get_by_label("Arguments (JSON)").fill('{"item": "42"}')
        await dialog.get_by_role("button", name="Run").click()
        await expect(dialog.locator(".test-outcome")).to_contain_text("ok")
        await expect(dialog.locator("pre.json")).to_contain_text("/echo/items/42")
        assert target.requests[-1]["raw_path"] == "/echo/items/42"
        assert target.requests[-1]["authorization"] == "Bearer tool-secret-42"

        # arguments that miss the schema: the API's 422 next to the field, nothing sent
        sent = len(target.requests)
        await dialog.get_by_label("Arguments (JSON)").fill('{"item": 7}')
        await dialog.get_by_role("button", name="Run").click()
        await expect(dialog.locator(".field-error")).to_contain_text(re.compile(r"\S"))
        assert len(target.requests) == sent
        await dialog.get_by_role("button", name="Close").click()

        await item.get_by_role("button", name="Delete lookup").click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(page.locator("li[data-tool=lookup]")).to_have_count(0)
    tools = (await ui_store.admin.get(f"{ui_store.path}/tools")).json()["items"]
    assert "lookup" not in {t["name"] for t in tools}


async def test_a_bad_http_tool_shows_the_api_details_next_to_the_field(page: Page) -> None:
    await page.goto("/tools")
    await page.get_by_role("button", name="New HTTP tool").first.click()
    form = page.get_by_role("form", name="New HTTP tool")
    await form.get_by_label("Name").fill("bad name!")
    await form.get_by_label("Description").fill("x")
    await form.get_by_label("URL template").fill("http://127.0.0.1:9/x")
    await form.get_by_role("button", name="Create tool").click()
    name_field = form.locator(".field[data-field=name]")
    await expect(name_field.locator(".field-error")).to_contain_text(re.compile(r"\S"))
    await expect(name_field.locator("input")).to_have_attribute("aria-invalid", "true")
    await form.get_by_label("Parameters (JSON Schema)").fill("{not json")
    await form.get_by_role("button", name="Create tool").click()
    await expect(form.locator(".field[data-field=parameters] .field-error")).to_contain_text(
        "not valid JSON"
    )


async def test_mcp_server_registered_and_checked_from_the_page(page: Page) -> None:
    async with serve_mcp(demo_server(), "streamable_http") as mcp_url:
        await page.goto("/tools")
        await expect(page.locator("#mcp-list")).to_contain_text("No MCP servers yet")
        await page.get_by_role("button", name="Register MCP server").first.click()
        form = page.get_by_role("form", name="Register MCP server")
        await form.get_by_label("Name").fill("calc")
        await form.get_by_label("Transport").select_option("streamable_http")
        await form.get_by_label("URL").fill(mcp_url)
        await form.get_by_role("button", name="Add header").click()
        await form.get_by_label("Header 1 name").fill("X-Api-Key")
        await form.get_by_label("Header 1 value").fill("mcp-secret-7")
        await form.get_by_role("button", name="Register").click()

        server = page.locator("li[data-server=calc]")
        await expect(server).to_contain_text("secret headers: X-Api-Key")
        assert "mcp-secret-7" not in await page.content()
        await server.get_by_role("button", name="Check health of calc").click()
        health = server.locator(".health")
        await expect(health).to_contain_text("healthy")
        await expect(health).to_contain_text("4 tools")
        await expect(health.locator(".chips")).to_contain_text("add")
        await expect(health).to_contain_text(re.compile(r"\d+ ms"))

        add = page.locator('li[data-tool="calc.add"]')
        await expect(add).to_contain_text("read-only")
        await add.get_by_role("button", name="Test calc.add").click()
        dialog = page.get_by_role("dialog", name="Test calc.add")
        await dialog.get_by_label("Arguments (JSON)").fill('{"a": 2, "b": 3}')
        await dialog.get_by_role("button", name="Run").click()
        await expect(dialog.locator(".test-outcome")).to_contain_text("ok")
        await expect(dialog.locator("pre.json")).to_contain_text("5")
        await page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)


async def test_mcp_health_of_a_server_that_is_down_says_so(page: Page, ui_store: UiStore) -> None:
    r = await ui_store.admin.post(
        f"{ui_store.path}/mcp-servers",
        json={"name": "gone", "transport": "streamable_http", "url": "http://127.0.0.1:9/mcp"},
    )
    assert r.status_code == 201, r.text
    await page.goto("/tools")
    server = page.locator("li[data-server=gone]")
    await server.get_by_role("button", name="Check health of gone").click()
    await expect(server.locator(".health")).to_contain_text("unhealthy")
    await expect(page.locator("#toasts")).to_contain_text("gone: unhealthy")


async def test_a_key_created_shown_once_then_revoked_gets_401(
    page: Page, ui_store: UiStore, ui_server: UiServer
) -> None:
    await page.goto("/settings")
    form = page.get_by_role("form", name="Create an API key")
    await form.get_by_label("Role").select_option("readonly")
    await form.get_by_label("Name (optional)").fill("ci-bot")
    await form.get_by_role("button", name="Create key").click()
    shown = page.get_by_label("The new API key")
    await expect(shown).to_have_value(re.compile(r"^lw_"))
    new_key = await shown.input_value()
    copy = page.get_by_role("button", name="Copy key")
    await expect(copy).to_be_focused()
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await copy.click()
    await expect(page.locator("#toasts")).to_contain_text("Key copied")
    assert await page.evaluate("navigator.clipboard.readText()") == new_key
    assert await me_status(ui_server, new_key) == 200

    row = page.locator("#keys-table tr", has_text="ci-bot")
    await expect(row).to_contain_text("readonly")
    await page.reload()  # shown once: gone after a reload, only its prefix listed
    await expect(page.locator("#keys-table")).to_contain_text("ci-bot")
    assert new_key not in await page.content()

    await page.get_by_role("button", name="Revoke key ci-bot").click()
    confirm = page.get_by_role("dialog")
    await expect(confirm).to_contain_text("401")
    await confirm.get_by_role("button", name="Revoke").click()
    await expect(page.locator("#toasts")).to_contain_text("Revoked ci-bot")
    await expect(page.locator("#keys-table tr", has_text="ci-bot")).to_have_count(0)
    assert await me_status(ui_server, new_key) == 401


async def test_a_provider_registered_with_a_key_never_shown_again(
    page: Page, ui_store: UiStore
) -> None:
    await page.goto("/settings")
    form = page.get_by_role("form", name="Register a provider")
    await form.get_by_label("Name").fill("local-llm")
    await form.get_by_label("Base URL").fill("http://127.0.0.1:9/v1")
    await form.get_by_label("API key").fill("sk-never-shown-9")
    await form.get_by_role("button", name="Register provider").click()
    item = page.locator("li[data-provider=local-llm]")
    await expect(item).to_contain_text("key stored")
    await expect(item).to_contain_text("http://127.0.0.1:9/v1")
    assert "sk-never-shown-9" not in await page.content()
    await expect(form.get_by_label("API key")).to_have_value("")

    await form.get_by_label("Name").fill("openai")  # reserved: the API's 409 on the field
    await form.get_by_role("button", name="Register provider").click()
    await expect(form.locator(".field[data-field=name] .field-error")).to_contain_text(
        "server-wide"
    )

    await item.get_by_role("button", name="Delete provider local-llm").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(page.locator("#providers-list")).to_contain_text("No providers")
    assert (await ui_store.admin.get(f"{ui_store.path}/providers")).json()["items"] == []


async def test_runs_list_and_a_runs_steps_and_tool_calls(page: Page, ui_store: UiStore) -> None:
    run = await run_offline(ui_store, "builder", "Create a project called Home")
    await page.goto("/runs")
    row = page.locator(f"tr[data-run={run['id']}]")
    await expect(row).to_contain_text("completed")
    await expect(row).to_contain_text("final_answer")
    await expect(row).to_contain_text("builder")
    usage = run["usage"]
    await expect(row).to_contain_text(f"{usage['input_tokens']} in / {usage['output_tokens']} out")

    await row.get_by_role("link", name=run["id"]).click()
    await expect(page).to_have_url(re.compile(f"/runs/{run['id']}$"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text(run["id"])
    steps = page.locator("#run-steps li.step")
    await expect(steps).to_have_count(2)
    await expect(steps.first).to_contain_text("offline:default")
    await expect(steps.first).to_contain_text("create_project")
    call = page.locator("#run-tool-calls li.item")
    await expect(call).to_have_count(1)
    await expect(call).to_contain_text("create_project")
    await expect(call).to_contain_text("ok")
    await call.get_by_text("Arguments").click()
    await expect(call.locator("pre.json").first).to_contain_text("Home")
    await expect(page.locator("#run-children")).to_contain_text("No child runs")

    await page.go_back()  # the back button returns to the list
    await expect(page).to_have_url(re.compile("/runs$"))
    await page.get_by_label("Status").select_option("failed")
    await page.get_by_role("button", name="Apply").click()
    await expect(page).to_have_url(re.compile(r"/runs\?status=failed$"))
    await expect(page.locator("#runs-list")).to_contain_text("No runs match these filters")


async def test_the_runs_list_shows_a_new_run_as_it_happens(page: Page, ui_store: UiStore) -> None:
    await run_offline(ui_store, "first", "Create a project called Home")
    await page.goto("/runs")
    await expect(page.locator("tr[data-run]")).to_have_count(1)
    await expect(page.locator(".topbar .live")).to_have_attribute("data-state", "live")
    run = await run_offline(ui_store, "second", "Create a project called Garden")
    row = page.locator(f"tr[data-run={run['id']}]")
    await expect(row).to_contain_text("completed")  # from the store's events, no reload
    await expect(row).to_contain_text("second")
    await expect(page.locator("tr[data-run]").first).to_have_attribute("data-run", run["id"])


async def test_a_runs_page_lists_its_child_runs(
    page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    r = await ui_store.admin.post(
        f"{ui_store.path}/providers",
        json={"name": "fake", "kind": "openai", "base_url": f"{base_url}/v1", "api_key": "sk-t"},
    )
    assert r.status_code == 201, r.text
    await ui_store.agent(name="kid", tools=["create_task"])
    boss = await ui_store.agent(name="boss", model="fake:m", tools=["ask_agent"])
    ask = {"agent": "kid", "message": "create a task called Alpha"}
    llm.push(Reply(tool_calls=[ToolCall("ask_agent", ask, id="c1")]), Reply(text=["Done."]))
    parent = await send(ui_store, (await ui_store.session(boss["id"]))["id"], "delegate")
    assert parent["status"] == "completed", parent

    await page.goto(f"/runs/{parent['id']}")
    child = page.locator("#run-children li.item")
    await expect(child).to_have_count(1)
    await expect(child).to_contain_text("completed")
    await expect(page.locator("#run-tool-calls")).to_contain_text("ask_agent")
    await child.get_by_role("link").click()
    await expect(page.locator("dl.facts")).to_contain_text("Parent run")
    await expect(page.locator("dl.facts")).to_contain_text("kid")
    await expect(page.locator("#run-tool-calls")).to_contain_text("create_task")
    await page.get_by_role("link", name=parent["id"]).click()
    await expect(page).to_have_url(re.compile(f"/runs/{parent['id']}$"))


async def test_a_running_run_settles_in_the_list_and_on_its_page(
    context: BrowserContext, page: Page, ui_store: UiStore, fake: tuple[GatedLLM, str]
) -> None:
    llm, base_url = fake
    r = await ui_store.admin.post(
        f"{ui_store.path}/providers",
        json={"name": "fake", "kind": "openai", "base_url": f"{base_url}/v1", "api_key": "sk-t"},
    )
    assert r.status_code == 201, r.text
    agent = await ui_store.agent(name="slow", model="fake:m")
    chat = await ui_store.session(agent["id"])
    held = Hold(Reply(text=["finally"]))
    llm.push(held)
    r = await ui_store.admin.post(
        f"{ui_store.path}/sessions/{chat['id']}/messages", json={"content": "take your time"}
    )
    run_id = r.json()["run"]["id"]
    await llm.wait_for_requests(1)

    await page.goto("/runs?status=running")
    row = page.locator(f"tr[data-run={run_id}]")
    await expect(row).to_contain_text("running")
    detail = await context.new_page()  # a second tab (its own sessionStorage: sign in again)
    await sign_in(detail, ui_store.key, f"/runs/{run_id}")
    await expect(detail.locator(".page-head .status")).to_have_text("running")
    await expect(detail.get_by_role("button", name="Cancel run")).to_be_visible()
    await expect(page.locator(".topbar .live")).to_have_attribute("data-state", "live")
    await expect(detail.locator(".topbar .live")).to_have_attribute("data-state", "live")

    held.gate.set()
    await expect(row).to_have_count(0)  # completed: it left the "running" filter, no reload
    await expect(detail.locator(".page-head .status")).to_have_text("completed")
    await expect(detail.locator("#run-steps li.step")).to_have_count(1)
    await expect(detail.get_by_role("button", name="Cancel run")).to_have_count(0)
    await detail.close()


async def test_runs_page_through_the_list_filtered_by_session(
    page: Page, ui_store: UiStore, ui_server: UiServer
) -> None:
    await without_rate_limits(ui_server, ui_store)  # 52 messages in a minute
    agent = await ui_store.agent(name="pager")
    chat = await ui_store.session(agent["id"])
    other = await ui_store.session(agent["id"])
    for n in range(51):  # one more than a page
        r = await ui_store.admin.post(
            f"{ui_store.path}/sessions/{chat['id']}/messages", json={"content": f"hello {n}"}
        )
        assert r.status_code == 202, r.text
    await send(ui_store, other["id"], "elsewhere")
    await page.goto(f"/runs?session_id={chat['id']}")
    rows = page.locator("tr[data-run]")
    await expect(rows).to_have_count(50)
    await page.get_by_role("button", name="Load more").click()
    await expect(rows).to_have_count(51)
    await expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    await page.get_by_role("button", name="Clear").click()
    await expect(rows).to_have_count(50)  # every session now: a first page again
    await expect(page).to_have_url(re.compile("/runs$"))


async def test_a_list_that_fails_to_load_says_why_and_retries(
    page: Page, ui_store: UiStore
) -> None:
    await run_offline(ui_store, "builder", "Create a project called Home")
    failure = {"error": {"code": "unavailable", "message": "the database is restarting"}}

    async def unavailable(route: Route) -> None:
        await route.fulfill(status=503, json=failure)

    await page.route("**/v1/stores/*/runs?*", unavailable)
    await page.goto("/runs")
    box = page.locator("#runs-list")
    await expect(box.get_by_role("alert")).to_contain_text("the database is restarting")
    await page.unroute("**/v1/stores/*/runs?*", unavailable)
    await box.get_by_role("button", name="Retry").click()
    await expect(page.locator("tr[data-run]")).to_have_count(1)


async def test_dashboard_shows_the_store_numbers_after_runs(page: Page, ui_store: UiStore) -> None:
    await page.goto("/dashboard")
    await expect(page.locator("#dashboard-body")).to_contain_text("Nothing happened")
    run = await run_offline(ui_store, "builder", "Create a project called Home")
    await expect(page.locator('[data-metric="Runs"]')).to_have_text("1")  # live, no refresh
    await failed_run(ui_store)
    await expect(page.locator('[data-metric="Runs"]')).to_have_text("2")
    tokens = str(run["usage"]["input_tokens"])
    await expect(page.locator('[data-metric="Input tokens"]')).to_have_text(tokens)
    await expect(page.locator('[data-metric="Errors"]')).to_have_text("1")
    breakdown = page.locator("#usage-breakdown")
    await expect(breakdown.locator("tr", has_text="builder")).to_contain_text(tokens)
    await expect(breakdown.locator("tr", has_text="doomed")).to_contain_text("1")
    await page.get_by_label("Breakdown").select_option("model")
    await expect(page).to_have_url(re.compile(r"group_by=model"))
    await expect(page.locator("#usage-breakdown")).to_contain_text("offline:default")
    await expect(page.get_by_role("img", name=re.compile("Runs by status"))).to_have_count(1)
    await page.get_by_text("Runs by status as a table").click()
    await expect(page.locator("table.chart-table").first).to_contain_text("completed")


async def test_a_readonly_key_sees_the_pages_without_the_actions(
    context: BrowserContext, ui_store: UiStore
) -> None:
    page = await context.new_page()
    await sign_in(page, await ui_store.key_of("readonly"), "/tools")
    create = page.get_by_role("button", name="New HTTP tool")
    await expect(create).to_be_disabled()
    await expect(create).to_have_attribute("title", re.compile("admin"))
    await expect(page.get_by_role("button", name="Test create_project")).to_be_disabled()
    await expect(page.get_by_role("navigation", name="Main")).not_to_contain_text("Settings")
    await page.goto("/settings")
    await expect(page.locator("main")).to_contain_text("may not open this page")
    await expect(page.locator("#keys-list")).to_have_count(0)
    await page.goto("/dashboard")
    await expect(page.locator('[data-metric="Runs"]')).to_have_text("0")


# Each page with its data loaded (what "loaded" looks like), checked by axe-core with every
# disclosure open (the JSON blocks, the chart tables); test_pages.py covers the first paint.
LOADED = {
    "/tools": "li[data-tool=create_project]",
    "/runs": "tr[data-run]",
    "/runs/{run}": "#run-tool-calls li.item",
    "/dashboard?group_by=model": "#usage-breakdown",
    "/settings": "#keys-table",
}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_loaded_pages_have_no_serious_accessibility_violations(
    browser: Browser, ui_server: UiServer, ui_store: UiStore, scheme: str, width: int
) -> None:
    run = await run_offline(ui_store, "builder", "Create a project called Home")
    await ui_store.admin.post(
        f"{ui_store.path}/mcp-servers",
        json={"name": "gone", "transport": "sse", "url": "http://127.0.0.1:9/sse"},
    )
    # The CSP rightly refuses an injected script: this context alone bypasses it to load axe.
    context = await browser.new_context(
        base_url=ui_server.base_url,
        bypass_csp=True,
        color_scheme=scheme,  # type: ignore[arg-type]
        viewport={"width": width, "height": 900},
    )
    try:
        page = await context.new_page()
        await sign_in(page, ui_store.key, "/tools")
        for route, loaded in LOADED.items():
            await page.goto(route.format(run=run["id"]))
            await expect(page.locator(loaded).first).to_be_visible()
            await expect(page.locator("main [aria-busy=true]")).to_have_count(0)
            await page.evaluate(
                "document.querySelectorAll('main details').forEach(d => d.open = true)"
            )
            await page.add_script_tag(path=str(AXE_JS))
            found = await page.evaluate(
                """async () => {
                  const r = await axe.run(document, {resultTypes: ['violations']});
                  return {checked: r.passes.length + r.violations.length,
                    bad: r.violations
                      .filter(v => ['serious', 'critical'].includes(v.impact))
                      .map(v => [v.id, v.nodes.slice(0, 3).map(n => n.target.join(' '))])};
                }"""
            )
            assert found["checked"] > 10, route  # axe really ran its rules
            assert found["bad"] == [], (route, found["bad"])
    finally:
        await context.close()
