"""Append an event and deliver it to 100 live SSE subscribers of the same store.

Reports p50/p99 latency from commit (the event's created_at, stamped inside the appending
transaction) to receipt by each subscriber, on loopback.

    .venv/bin/python bench/events_fanout.py [--subscribers 100] [--events 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime

import httpx

from bench.harness import create_store, loopwright_server, percentile


class Deliveries:
    """Latencies received so far, and a wake-up when a target count is reached."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.target = 0
        self.reached = asyncio.Event()

    def add(self, latency_ms: float) -> None:
        self.latencies.append(latency_ms)
        if len(self.latencies) >= self.target:
            self.reached.set()

    async def until(self, target: int) -> None:
        self.target = target
        self.reached.clear()
        if len(self.latencies) < target:
            await self.reached.wait()


async def subscriber(
    client: httpx.AsyncClient, url: str, ready: asyncio.Event, sink: Deliveries, n: int
) -> None:
    headers = {"Accept": "text/event-stream"}
    params = {"types": "session.created"}
    async with client.stream("GET", url, headers=headers, params=params) as response:
        ready.set()
        got = 0
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                received = time.time()
                event = json.loads(line[5:])
                created = datetime.fromisoformat(event["created_at"]).timestamp()
                sink.add((received - created) * 1000)
                got += 1
                if got == n:
                    return


async def main(subscribers: int, events: int) -> None:
    with loopwright_server() as server:
        key = create_store(server.base_url, "bench")
        headers = {"Authorization": f"Bearer {key}"}
        limits = httpx.Limits(max_connections=subscribers + 10)
        async with httpx.AsyncClient(
            base_url=server.base_url, headers=headers, timeout=60, limits=limits
        ) as client:
            agent = (await client.post("/v1/stores/bench/agents", json={"name": "a"})).json()
            deliveries = Deliveries()
            readies = [asyncio.Event() for _ in range(subscribers)]
            tasks = [
                asyncio.create_task(
                    subscriber(client, "/v1/stores/bench/events", r, deliveries, events)
                )
                for r in readies
            ]
            await asyncio.gather(*(r.wait() for r in readies))
            await asyncio.sleep(0.5)  # let every stream reach its live tail
            for i in range(events):
                await client.post("/v1/stores/bench/sessions", json={"agent_id": agent["id"]})
                await deliveries.until((i + 1) * subscribers)
            await asyncio.gather(*tasks)
    latencies = deliveries.latencies
    print(
        f"fan-out to {subscribers} SSE subscribers, {events} events "
        f"({len(latencies)} deliveries): "
        f"p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--events", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.subscribers, args.events))
