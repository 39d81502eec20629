"""How long the Runs, run and Dashboard pages take to show their data in Debian's chromium, over
a store with ``--runs`` runs spread over 30 days (seeded straight into the server's SQLite
database, as ``bench.usage_query`` does): from navigation to the loaded page, p50 of
``--repeat`` loads each, after one warm-up load.

    PYTHONPATH=src .venv/bin/python -m bench.ui_pages_load [--runs 20000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

from bench.harness import OPERATOR_KEY, loopwright_server
from bench.usage_query import seed
from loopwright.db.database import Database

CHROMIUM = "/usr/bin/chromium"
PAGES = {
    "/runs": "tr[data-run]",
    "/runs/{run}": "#run-steps li.step",
    "/dashboard?range=24h&group_by=agent": "#usage-breakdown",
    "/dashboard?range=30d&group_by=model": "#usage-breakdown",
}


async def api_alone(base_url: str, key: str, run_id: str, repeat: int) -> None:
    """The same pages' main API calls from a plain client, for comparison."""
    store = "/v1/stores/bench-ui"
    calls = {
        "runs list": (f"{store}/runs", {"limit": "50"}),
        "run steps": (f"{store}/runs/{run_id}/steps", {}),
        "usage 24h by agent": (f"{store}/usage", {"bucket": "hour", "group_by": "agent"}),
        "usage 30d by model": (f"{store}/usage", {"bucket": "day", "group_by": "model"}),
    }
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        for name, (path, params) in calls.items():
            times = []
            for _ in range(repeat + 1):
                started = time.perf_counter()
                (await http.get(path, params=params)).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            print(f"API {name:<36} p50 {statistics.median(times[1:]):6.0f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with loopwright_server() as server:
        operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=operator) as http:
            (await http.post("/v1/stores", json={"id": "bench-ui"})).raise_for_status()
            r = await http.post("/v1/stores/bench-ui/keys", json={"role": "admin"})
            key = r.json()["key"]
        db = Database(f"sqlite:///{Path(server.data_dir) / 'loopwright.db'}")
        run_ids = await seed(db, "bench-ui", args.runs, datetime.now(UTC), new_store=False)
        await db.dispose()
        print(f"seeded {args.runs} runs over 30 days")
        await api_alone(server.base_url, key, run_ids[0], args.repeat)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM)
            context = await browser.new_context(base_url=server.base_url)
            page = await context.new_page()
            await page.goto("/signin")
            await page.evaluate("k => sessionStorage.setItem('loopwright.key', k)", key)
            for path, loaded in PAGES.items():
                url = path.format(run=run_ids[0])
                times = []
                for i in range(args.repeat + 1):
                    started = time.perf_counter()
                    await page.goto(url)
                    await page.locator(loaded).first.wait_for()
                    if i:  # the first load warms the caches
                        times.append((time.perf_counter() - started) * 1000)
                print(
                    f"{path:<40} p50 {statistics.median(times):6.0f} ms, max {max(times):6.0f} ms"
                )
            await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
