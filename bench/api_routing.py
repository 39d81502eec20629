"""CPU per request spent finding a route: the app called in-process, no server, no lifespan.

Each request is one the router must search the whole route list for: a path no route has
(404), and a method the hot routes lack (405: every route is searched for a full match
before the partial one answers). What differs between two trees is the routing (and the
error responses, the same in both).

    PYTHONPATH=src:. .venv/bin/python -m bench.api_routing [--requests 2000]

Measured 2026-12-07, pinned to one core (``taskset -c 0``): with every router included
(``include_router``) 396 µs (404) and 1,280-1,362 µs (405); with the routes in the app's
own list (``server.app.add_routes``) 224 µs and 897-1,022 µs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

from loopwright.server.app import create_app
from loopwright.settings import Settings

REQUESTS = (
    ("PATCH", "/v1/stores/st_1/sessions/ses_1/messages"),
    ("PUT", "/v1/stores/st_1/events"),
    ("GET", "/v1/nothing-here"),
)


async def call(app: Any, method: str, path: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": "http",
        "headers": [(b"host", b"bench")],
        "query_string": b"",
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def main(requests: int) -> None:
    app = create_app(Settings(data_dir=tempfile.mkdtemp()))
    for method, path in REQUESTS:
        status = await call(app, method, path)
        for _ in range(requests // 10):
            await call(app, method, path)
        started = time.process_time()
        for _ in range(requests):
            await call(app, method, path)
        spent = (time.process_time() - started) / requests * 1e6
        print(f"{method} {path} -> {status}: {spent:.0f} µs of CPU per request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    os.sched_setaffinity(0, {0})
    asyncio.run(main(parser.parse_args().requests))
