"""The server takes every pending connection at once, even while its loop is busy.

``uvicorn_config`` is what both ``serve`` paths run (``server/http_server.py``): here it serves
a small app whose loop a background task keeps busy (each iteration at least 30 ms, as under
load), and 40 clients connect at once. Taking one connection per loop iteration (uvloop) made
the last of them wait 40 iterations before its request was even read.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from loopwright.server.http_server import uvicorn_config
from loopwright.settings import Settings

CLIENTS = 40
ITERATION_S = 0.03


class BusyApp:
    """Answers ``ok``; ``/busy`` starts a task that holds every loop iteration for 30 ms."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/busy":
            asyncio.get_running_loop().create_task(self._hog())
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    async def _hog(self) -> None:
        while not self.stop.is_set():
            time.sleep(ITERATION_S)  # noqa: ASYNC251  # holding the loop is the point
            await asyncio.sleep(0)


@pytest.fixture
def server(tmp_path: Path, unused_tcp_port: int) -> Iterator[tuple[int, BusyApp]]:
    app = BusyApp()
    config = uvicorn_config(
        app, Settings(data_dir=tmp_path), host="127.0.0.1", port=unused_tcp_port
    )
    config.lifespan = "off"
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield unused_tcp_port, app
    app.stop.set()
    served.should_exit = True
    thread.join(timeout=20)


def ask(port: int, path: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    return conn


def answer(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(4096):
        chunks.append(chunk)
    conn.close()
    return b"".join(chunks)


def test_connections_that_arrive_together_are_taken_together(
    server: tuple[int, BusyApp],
) -> None:
    port, _ = server
    assert answer(ask(port, "/busy")).startswith(b"HTTP/1.1 200")
    began = time.monotonic()
    conns = [ask(port, "/") for _ in range(CLIENTS)]
    answers = [answer(conn) for conn in conns]
    took = time.monotonic() - began
    assert all(a.startswith(b"HTTP/1.1 200") and a.endswith(b"ok") for a in answers)
    # a connection per iteration: at least CLIENTS * ITERATION_S (1.2 s); all at once: a
    # few iterations for all of them
    assert took < CLIENTS * ITERATION_S / 2, f"{CLIENTS} connections took {took:.2f} s"
