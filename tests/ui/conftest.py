"""The web UI in a real browser: one server process and one Debian chromium (driven by
Playwright from PyPI, no browser download) for the whole session, a fresh store per test.

The server is a real ``loopwright serve`` process on loopback (``tests.procs``); a scripted
OpenAI-compatible fake runs on loopback in the test's event loop for slow and held runs."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from tests.llm.fakes import openai_app, serve
from tests.procs import OPERATOR_KEY, STARTED, ServerProcess
from tests.scripted import GatedLLM

CHROMIUM = os.environ.get("LOOPWRIGHT_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"


@dataclass
class UiServer:
    base_url: str
    operator: httpx.AsyncClient


@dataclass
class UiStore:
    """A store of the UI server with its admin key and an admin client."""

    id: str
    key: str
    admin: httpx.AsyncClient

    @property
    def path(self) -> str:
        return f"/v1/stores/{self.id}"

    async def agent(self, **fields: Any) -> dict[str, Any]:
        body = {"name": f"agent-{uuid.uuid4().hex[:6]}", **fields}
        r = await self.admin.post(f"{self.path}/agents", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def session(self, agent_id: str, **fields: Any) -> dict[str, Any]:
        r = await self.admin.post(f"{self.path}/sessions", json={"agent_id": agent_id, **fields})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def key_of(self, role: str) -> str:
        r = await self.admin.post(f"{self.path}/keys", json={"role": role})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])


@pytest.fixture(scope="session")
async def fake_llm() -> AsyncIterator[tuple[GatedLLM, str]]:
    """A scripted fake model for the session (each test resets its script)."""
    llm = GatedLLM()
    async with serve(openai_app(llm)) as base_url:
        yield llm, base_url
        llm.reset()


@pytest.fixture
async def fake(fake_llm: tuple[GatedLLM, str]) -> AsyncIterator[tuple[GatedLLM, str]]:
    llm, base_url = fake_llm
    llm.reset()
    yield llm, base_url
    llm.reset()


@pytest.fixture(scope="session")
async def ui_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UiServer]:
    data_dir = tmp_path_factory.mktemp("ui-data")
    server = ServerProcess(
        data_dir,
        {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32", "LOOPWRIGHT_SSE_HEARTBEAT_S": "1"},
        output=data_dir / "server.log",
    )
    await server.start()
    STARTED.remove(server)  # lives for the session, stopped below
    operator = httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=30
    )
    try:
        yield UiServer(base_url=server.base_url, operator=operator)
    finally:
        await operator.aclose()
        await server.stop()


@pytest.fixture
async def ui_store(ui_server: UiServer) -> AsyncIterator[UiStore]:
    store_id = f"ui-{uuid.uuid4().hex[:8]}"
    r = await ui_server.operator.post("/v1/stores", json={"id": store_id})
    assert r.status_code == 201, r.text
    r = await ui_server.operator.post(f"/v1/stores/{store_id}/keys", json={"role": "admin"})
    key = r.json()["key"]
    admin = httpx.AsyncClient(
        base_url=ui_server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    yield UiStore(id=store_id, key=key, admin=admin)
    await admin.aclose()


def chromium() -> str:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as pw:
        found = await pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield found
        await found.close()


class Console:
    """What the page said: errors, and Content-Security-Policy violations (there must be none)."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _message(self, message: Any) -> None:
        if message.type == "error" and "status of 4" not in message.text:
            self.errors.append(message.text)

    @property
    def csp_violations(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]


CONSOLES: dict[Page, Console] = {}
"""The console of each page the ``page`` fixture opened (a test may look at what it said)."""


@pytest.fixture
async def context(browser: Browser, ui_server: UiServer) -> AsyncIterator[BrowserContext]:
    found = await browser.new_context(
        base_url=ui_server.base_url, viewport={"width": 1280, "height": 800}
    )
    found.set_default_timeout(15_000)
    yield found
    await found.close()


async def sign_in(page: Page, key: str, path: str = "/") -> None:
    """Open ``path`` and sign in with ``key`` through the form (as a user does)."""
    await page.goto(path)
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator(".topbar").wait_for()


@pytest.fixture
async def page(context: BrowserContext, ui_store: UiStore) -> AsyncIterator[Page]:
    """A page signed in with the store's admin key; fails the test on any CSP violation."""
    found = await context.new_page()
    console = Console(found)
    CONSOLES[found] = console
    await sign_in(found, ui_store.key)
    yield found
    del CONSOLES[found]
    assert not console.csp_violations, console.csp_violations
    assert not [e for e in console.errors if e.startswith("pageerror")], console.errors


async def hold_first_agents_request(page: Page) -> asyncio.Future[Route]:
    """Hold the page's first request for the store's agents (later ones go through): the
    returned future gives its route, to ``continue_`` when the test is ready."""
    held: asyncio.Future[Route] = asyncio.get_running_loop().create_future()

    async def hold_the_first(route: Route) -> None:
        if held.done():
            await route.continue_()
        else:
            held.set_result(route)

    await page.route(re.compile(r"/v1/stores/[^/]+/agents(\?|$)"), hold_the_first)
    return held


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name


async def without_rate_limits(server: UiServer, store: UiStore) -> None:
    """Lift the store's runs and tokens per minute (a test that sends more than 20 messages)."""
    r = await server.operator.patch(
        f"{store.path}/settings", json={"runs_per_min": None, "tokens_per_min": None}
    )
    assert r.status_code == 200, r.text
