"""The web console's latency, against a fake OpenAI-compatible model at 0 ms (bench/fake_openai.py:
every turn is a list_projects tool call, then a short answer).

In one run, p50 over ``--messages`` messages each:
  * browser: from pressing Enter in the chat to the first streamed token on screen (a text node
    of the growing bubble gets its first characters) and to the final answer rendered;
  * API client: the same with httpx, from POST to the first ``llm.text_delta`` on an open SSE
    stream and to ``run.completed``;
  * the chat page's load time for a session of 500 messages (navigation to the newest page
    rendered, p50 of 5 loads).

    .venv/bin/python -m bench.ui_latency [--messages 50] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import httpx
from playwright.sync_api import Page, sync_playwright

from bench.harness import create_store, free_port, loopwright_server, process

MEASURE_IN_PAGE = """() => new Promise((resolve) => {
  const box = document.querySelector('textarea[aria-label=Message]');
  const finals = () => document.querySelectorAll('.msg-assistant:not(.streaming) .bubble.markdown').length;
  const before = finals();
  let first = null;
  const t0 = performance.now();
  const observer = new MutationObserver((records) => {
    if (first === null && records.some((r) => r.type === 'characterData'
        && r.target.parentElement?.closest('.stream-text') && r.target.data.length)) {
      first = performance.now() - t0;
    }
    if (finals() > before) {
      observer.disconnect();
      resolve({first, final: performance.now() - t0});
    }
  });
  observer.observe(document.querySelector('.conv-list'),
                   {subtree: true, childList: true, characterData: true});
  box.value = 'what projects do I have?';
  box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
})"""


def setup(base_url: str, fake_port: int) -> tuple[str, dict[str, str], str]:
    key = create_store(base_url, "bench")
    auth = {"Authorization": f"Bearer {key}"}
    api = f"{base_url}/v1/stores/bench"
    httpx.post(
        f"{api}/providers",
        headers=auth,
        json={
            "name": "fake",
            "kind": "openai",
            "base_url": f"http://127.0.0.1:{fake_port}/v1",
            "api_key": "sk-bench",
        },
    ).raise_for_status()
    r = httpx.post(
        f"{api}/agents",
        headers=auth,
        json={"name": "bench", "model": "fake:bench", "tools": ["list_projects"]},
    )
    r.raise_for_status()
    return key, auth, str(r.json()["id"])


def new_session(api: str, auth: dict[str, str], agent_id: str) -> str:
    r = httpx.post(f"{api}/sessions", headers=auth, json={"agent_id": agent_id})
    r.raise_for_status()
    return str(r.json()["id"])


def api_client(
    api: str, auth: dict[str, str], agent_id: str, n: int
) -> tuple[list[float], list[float]]:
    session = new_session(api, auth, agent_id)
    firsts: list[float] = []
    finals: list[float] = []
    headers = {**auth, "Accept": "text/event-stream"}
    with (
        httpx.Client(timeout=30) as http,
        http.stream("GET", f"{api}/events", params={"session_id": session}, headers=headers) as sse,
    ):
        lines = sse.iter_lines()
        for _ in range(n):
            t0 = time.perf_counter()
            http.post(
                f"{api}/sessions/{session}/messages", headers=auth, json={"content": "hi"}
            ).raise_for_status()
            first = None
            for line in lines:
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event["type"] == "llm.text_delta" and first is None:
                    first = time.perf_counter() - t0
                if event["type"] == "run.completed":
                    finals.append(time.perf_counter() - t0)
                    break
            firsts.append(first if first is not None else float("nan"))
    return [f * 1000 for f in firsts], [f * 1000 for f in finals]


def sign_in(page: Page, base_url: str, key: str) -> None:
    page.goto(f"{base_url}/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.locator(".topbar").wait_for()


def browser_chat(
    page: Page, base_url: str, session: str, n: int
) -> tuple[list[float], list[float]]:
    page.goto(f"{base_url}/chat/{session}")
    page.locator("textarea[aria-label=Message]").wait_for()
    firsts: list[float] = []
    finals: list[float] = []
    for _ in range(n):
        result = page.evaluate(MEASURE_IN_PAGE)
        firsts.append(result["first"] if result["first"] is not None else float("nan"))
        finals.append(result["final"])
        page.locator(".run-status:last-of-type").last.wait_for()
        page.wait_for_function(
            "() => !document.querySelector('.run-status[data-status=running], "
            ".run-status[data-status=queued]')"
        )
    return firsts, finals


def load_times(
    page: Page, base_url: str, api: str, auth: dict[str, str], agent_id: str
) -> tuple[int, list[float]]:
    session = new_session(api, auth, agent_id)
    with httpx.Client(timeout=60) as http:
        for _ in range(125):  # 4 messages a turn: user, tool call, tool result, answer
            http.post(
                f"{api}/sessions/{session}/messages",
                headers=auth,
                json={"content": "what projects do I have?", "wait": True},
            ).raise_for_status()
        count = 0
        cursor = None
        while True:
            page_ = http.get(
                f"{api}/sessions/{session}/messages",
                headers=auth,
                params={"limit": 200, **({"cursor": cursor} if cursor else {})},
            ).json()
            count += len(page_["items"])
            cursor = page_["next_cursor"]
            if not cursor:
                break
    times: list[float] = []
    for _ in range(5):
        page.goto(f"{base_url}/agents")
        page.locator("table, .empty").first.wait_for()
        t0 = time.perf_counter()
        page.goto(f"{base_url}/chat/{session}")
        page.wait_for_function(
            "() => document.querySelectorAll('.run-status[data-status=completed]').length > 0"
            " && !document.querySelector('main [aria-busy=true]')"
        )
        times.append((time.perf_counter() - t0) * 1000)
    return count, times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    fake_port = free_port()
    fake = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.fake_openai:app",
        "--port",
        str(fake_port),
        "--log-level",
        "warning",
    ]
    env = {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32", "LOOPWRIGHT_STORE_CONCURRENCY": "5"}
    with process(fake, f"http://127.0.0.1:{fake_port}/health"), loopwright_server(env) as server:
        base = server.base_url
        key, auth, agent_id = setup(base, fake_port)
        api = f"{base}/v1/stores/bench"
        api_first, api_final = api_client(api, auth, agent_id, args.messages)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            sign_in(page, base, key)
            ui_first, ui_final = browser_chat(
                page, base, new_session(api, auth, agent_id), args.messages
            )
            count, loads = load_times(page, base, api, auth, agent_id)
            browser.close()

    def p50(values: list[float]) -> str:
        return f"{statistics.median(values):7.1f} ms"

    print(
        f"\n{args.messages} messages each, fake model at 0 ms (2 model calls + 1 tool call a turn)"
    )
    print(f"{'':28}{'first token':>14}{'final answer':>16}")
    print(f"{'API client (httpx, SSE)':28}{p50(api_first):>14}{p50(api_final):>16}")
    print(f"{'browser (chat page)':28}{p50(ui_first):>14}{p50(ui_final):>16}")
    print(
        f"chat page load, {count}-message session: p50 {p50(loads)} (min {min(loads):.1f}, max {max(loads):.1f}) over {len(loads)} loads"
    )


if __name__ == "__main__":
    main()
