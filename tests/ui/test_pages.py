"""Every page at 1280 and 390 px: a screenshot saved to artifacts/screenshots/ (git-ignored),
and axe-core in the page with no serious or critical violation.

Add a page by adding its route to ROUTES ({agent}, {session}, {run}, and a team agent's
{team_agent}, {team_session}, {team_run} with a finished plan, are filled from a seeded store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from tests.ui.conftest import AXE_JS, Console, UiServer, UiStore, screenshot_path, sign_in

ROUTES = [
    "/signin",
    "/agents",
    "/agents/new",
    "/agents/{agent}",
    "/agents/{agent}/edit",
    "/chat",
    "/chat/{session}",
    "/chat/{team_session}",
    "/runs",
    "/runs/{run}",
    "/runs/{team_run}",
    "/agents/{team_agent}/edit",
    "/memories",
    "/workspace",
    "/schedules",
    "/webhooks",
    "/approvals",
    "/tools",
    "/dashboard",
    "/settings",
]
WIDTHS = [1280, 390]


@pytest.fixture(scope="module")
async def seeded(ui_server: UiServer) -> AsyncIterator[dict[str, Any]]:
    """One store with an agent, a session with a finished run (a tool card), for every page."""
    import httpx

    store_id = "ui-pages"
    await ui_server.operator.post("/v1/stores", json={"id": store_id})
    r = await ui_server.operator.post(f"/v1/stores/{store_id}/keys", json={"role": "admin"})
    key = r.json()["key"]
    async with httpx.AsyncClient(
        base_url=ui_server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as admin:
        store = UiStore(id=store_id, key=key, admin=admin)
        agent = await store.agent(name="Planner", description="plans", tools=["create_task"])
        session = await store.session(agent["id"], title="Weekly plan")
        r = await admin.post(
            f"{store.path}/sessions/{session['id']}/messages",
            json={"content": "create a task called **Review** the plan", "wait": True},
        )
        assert r.status_code == 200, r.text
        run = r.json()["run"]["id"]
        for name in ("Home", "Work"):
            r = await admin.post(f"{store.path}/projects", json={"name": name})
            assert r.status_code == 201, r.text
        team = await store.agent(name="Team", mode="team", tools=["list_projects", "read_project"])
        team_session = await store.session(team["id"], title="Compare")
        r = await admin.post(
            f"{store.path}/sessions/{team_session['id']}/messages",
            json={"content": "compare my projects", "wait": True},
        )
        assert r.status_code == 200, r.text
        assert r.json()["run"]["status"] == "completed", r.text
        yield {
            "key": key,
            "agent": agent["id"],
            "session": session["id"],
            "run": run,
            "team_agent": team["id"],
            "team_session": team_session["id"],
            "team_run": r.json()["run"]["id"],
        }


@pytest.fixture(scope="module")
async def axe_context(browser: Browser, ui_server: UiServer) -> AsyncIterator[BrowserContext]:
    # The CSP rightly refuses an injected script: this context alone bypasses it to load axe.
    context = await browser.new_context(base_url=ui_server.base_url, bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context
    await context.close()


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE_JS))
    found: dict[str, Any] = await page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ['violations']});
          return {
            checked: result.passes.length + result.violations.length,
            violations: result.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})),
          };
        }"""
    )
    assert found["checked"] > 10  # axe really ran its rules
    violations: list[dict[str, Any]] = found["violations"]
    return violations


@pytest.fixture(scope="module")
async def signed_in(
    axe_context: BrowserContext, seeded: dict[str, Any]
) -> AsyncIterator[dict[int, Page]]:
    """One signed-in tab per width, moved from page to page by the client-side router."""
    pages: dict[int, Page] = {}
    for width in WIDTHS:
        page = await axe_context.new_page()
        await page.set_viewport_size({"width": width, "height": 900})
        await sign_in(page, seeded["key"], "/agents")
        pages[width] = page
    yield pages
    for page in pages.values():
        await page.close()


NAVIGATE = """path => {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("route", ROUTES)
async def test_page_screenshot_and_accessibility(
    axe_context: BrowserContext,
    signed_in: dict[int, Page],
    seeded: dict[str, Any],
    route: str,
    width: int,
) -> None:
    if route == "/signin":  # a new tab has no key
        page = await axe_context.new_page()
        await page.set_viewport_size({"width": width, "height": 900})
        await page.goto("/signin")
        await expect(page.get_by_label("API key")).to_be_visible()
    else:
        page = signed_in[width]
        path = route.format(**seeded)
        await page.evaluate(NAVIGATE, path)
        await expect(page.locator(f'main[data-path="{path}"]')).to_have_count(1)  # its page
        await expect(page.locator("main [aria-busy=true]")).to_have_count(0)
        await expect(page.locator("main :is(h1, h2):visible").first).to_be_visible()
        if route == "/chat/{session}":
            await expect(page.locator(".run-status")).to_have_attribute("data-status", "completed")
        if route == "/chat/{team_session}":
            completed = page.locator(".plan-panel .plan-step[data-status=completed]")
            await expect(completed).to_have_count(2)
        if route == "/runs/{team_run}":
            await expect(page.locator("#run-plan .plan-step")).to_have_count(2)
    name = route.strip("/").replace("/", "_").replace("{", "").replace("}", "")
    await page.screenshot(path=str(screenshot_path(f"{name}-{width}.png")), full_page=True)
    violations = await axe_violations(page)
    if route == "/signin":
        await page.close()
    assert violations == [], violations


async def test_docs_render_offline_under_the_csp(context: BrowserContext) -> None:
    """/docs is Swagger UI from the server's own files: it renders the API with no CSP
    violation (the context blocks every request that leaves this server)."""
    outside: list[str] = []

    async def refuse(route: Route) -> None:
        outside.append(route.request.url)
        await route.abort()

    page = await context.new_page()
    console = Console(page)
    await page.route(lambda url: not url.startswith("http://127.0.0.1:"), refuse)
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Loopwright")
    await expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert outside == []
    assert console.csp_violations == []
