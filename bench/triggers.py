"""Triggers on one server process (SQLite, the offline model):

- scheduling precision: ``--schedules`` schedules firing every second for as long as it takes
  to record ``--fires`` fires; fire time minus due time, p50 and p99; first for a disabled
  agent (no runs start: the scheduler alone, the baseline), then with the runs;
- webhook intake: ``--posts`` signed POSTs at ``--concurrency`` that become runs (202), per
  second, against plain API messages (``POST .../messages``) in the same run as the baseline.

    python -m bench.triggers [--fires 200] [--schedules 20] [--posts 400] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import httpx

from bench.harness import create_store, loopwright_server, percentile
from loopwright.runtime import signing


async def precision(
    http: httpx.AsyncClient, agent_id: str, fires: int, count: int, label: str
) -> None:
    ids = []
    for _ in range(count):
        r = await http.post(
            "/schedules", json={"agent_id": agent_id, "cron": "* * * * * *", "message": "tick"}
        )
        r.raise_for_status()
        ids.append(r.json()["id"])
    found: list[float] = []
    while len(found) < fires:
        await asyncio.sleep(5)  # rarely: reading the history is work for the measured process
        found = []
        for schedule_id in ids:
            items = (await http.get(f"/schedules/{schedule_id}/fires?limit=200")).json()["items"]
            found += [
                (
                    datetime.fromisoformat(f["fired_at"]) - datetime.fromisoformat(f["due_at"])
                ).total_seconds()
                * 1000
                for f in items
            ]
    for schedule_id in ids:
        await http.post(f"/schedules/{schedule_id}/pause")
    print(
        f"{label}: scheduling precision over {len(found)} fires ({count} schedules, every second): "
        f"p50 {percentile(found, 0.5):.1f} ms, p99 {percentile(found, 0.99):.1f} ms, "
        f"max {max(found):.1f} ms"
    )


async def rate(
    label: str, send: list[tuple[str, bytes, dict[str, str]]], conc: int, client: httpx.AsyncClient
) -> float:
    queue = list(send)
    ok = 0

    async def worker() -> None:
        nonlocal ok
        while queue:
            url, body, headers = queue.pop()
            r = await client.post(url, content=body, headers=headers)
            ok += r.status_code in (200, 202)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    per_s = ok / (time.perf_counter() - started)
    print(f"{label}: {ok}/{len(send)} accepted, {per_s:.1f}/s")
    return per_s


async def intake(base: str, key: str, store: str, agent_id: str, posts: int, conc: int) -> None:
    auth = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        r = await client.post(
            f"/v1/stores/{store}/webhooks",
            json={"agent_id": agent_id, "template": "{body.text}", "session_policy": "new"},
            headers=auth,
        )
        r.raise_for_status()
        hook = r.json()
        signed = []
        for i in range(posts):
            body = json.dumps({"text": f"event {i}"}).encode()
            headers = signing.headers(hook["secret"], f"msg_{i}", datetime.now(UTC), body)
            signed.append((f"/hooks/{hook['id']}", body, {**headers, **auth}))
        plain = []
        for i in range(posts):
            chat = await client.post(
                f"/v1/stores/{store}/sessions", json={"agent_id": agent_id}, headers=auth
            )
            body = json.dumps({"content": f"event {i}"}).encode()
            plain.append((f"/v1/stores/{store}/sessions/{chat.json()['id']}/messages", body, auth))
        api = await rate("baseline: API messages", plain, conc, client)
        hooks = await rate("signed webhook POSTs", signed, conc, client)
        print(f"webhook intake / API message intake: {hooks / api:.2f}")


async def main(args: argparse.Namespace) -> None:
    env = {"LOOPWRIGHT_SCHEDULE_POLL_S": "1", "LOOPWRIGHT_STORE_CONCURRENCY": "50"}
    with loopwright_server(env, ready_timeout_s=180) as server:
        store = f"bench-{uuid.uuid4().hex[:8]}"
        key = create_store(server.base_url, store)
        async with httpx.AsyncClient(
            base_url=f"{server.base_url}/v1/stores/{store}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ) as http:
            # Baseline: fires on a disabled agent start no run (each is recorded `failed`), so
            # this is the scheduler alone; then the same with the runs the fires start.
            idle = (await http.post("/agents", json={"name": "idle"})).json()
            await http.patch(f"/agents/{idle['id']}", json={"status": "disabled"})
            await precision(http, idle["id"], args.fires, args.schedules, "baseline (no runs)")
            agent = (await http.post("/agents", json={"name": "bench"})).json()
            await precision(http, agent["id"], args.fires, args.schedules, "fires starting runs")
            await intake(server.base_url, key, store, agent["id"], args.posts, args.concurrency)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--fires", type=int, default=200)
    parser.add_argument("--schedules", type=int, default=5)
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
