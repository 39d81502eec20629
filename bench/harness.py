"""Shared bench plumbing: start a Loopwright server in a subprocess on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import httpx

OPERATOR_KEY = "bench-operator"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become ready")


@dataclass
class Server:
    base_url: str
    data_dir: str
    pid: int


@contextmanager
def loopwright_server(
    extra_env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout_s: float = 30,
    prefix: Sequence[str] = (),
) -> Iterator[Server]:
    """``prefix`` goes before the command (``taskset -c 0`` pins the server and its children)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "LOOPWRIGHT_OPERATOR_KEY": OPERATOR_KEY,
            "LOOPWRIGHT_CREATE_DEMO": "false",
            "LOOPWRIGHT_LOG_LEVEL": "warning",
            **(extra_env or {}),
        }
        cmd = [sys.executable, "-m", "loopwright", "serve", "--port", str(port)]
        proc = subprocess.Popen(
            [*prefix, *cmd, "--data-dir", data_dir, *extra_args],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base + "/healthz", ready_timeout_s)
            assert proc.stdout is not None
            if _processes(extra_args) > 1:  # measure only once every process has started
                for line in proc.stdout:
                    print(line, end="")
                    if "processes ready" in line:
                        break
            threading.Thread(target=_echo, args=(proc.stdout,), daemon=True).start()
            yield Server(base_url=base, data_dir=data_dir, pid=proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _processes(args: Sequence[str]) -> int:
    args = list(args)
    return int(args[args.index("--processes") + 1]) if "--processes" in args else 1


def _echo(stream: IO[str]) -> None:
    for line in stream:
        print(line, end="")


@contextmanager
def process(cmd: Sequence[str], ready_url: str) -> Iterator[None]:
    proc = subprocess.Popen(list(cmd))
    try:
        wait_ready(ready_url)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def create_store(base_url: str, store_id: str) -> str:
    """A store and its admin key; without the default rate limits (20 runs and 30,000 tokens a
    minute), which a benchmark's load passes at once (``bench.guardrails_overhead`` measures
    them)."""
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    httpx.post(f"{base_url}/v1/stores", json={"id": store_id}, headers=operator).raise_for_status()
    httpx.patch(
        f"{base_url}/v1/stores/{store_id}/settings",
        json={"runs_per_min": None, "tokens_per_min": None},
        headers=operator,
    ).raise_for_status()
    r = httpx.post(
        f"{base_url}/v1/stores/{store_id}/keys", json={"role": "admin"}, headers=operator
    )
    r.raise_for_status()
    return str(r.json()["key"])


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
