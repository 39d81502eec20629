"""Requests/s for GET /v1/stores/{s}/agents/{id} at concurrency 50, beside a minimal FastAPI app
returning a constant JSON body, measured in the same run with the same load generator (wrk).

    .venv/bin/python bench/api_throughput.py [--seconds 10] [--connections 50]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys

import httpx

from bench.harness import create_store, free_port, loopwright_server, process


def wrk(url: str, seconds: int, connections: int, key: str | None = None) -> float:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if key:
        cmd[1:1] = ["-H", f"Authorization: Bearer {key}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(out)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def main(seconds: int, connections: int) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    port = free_port()
    baseline_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.constant_app:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with process(baseline_cmd, f"http://127.0.0.1:{port}/healthz"):
        baseline = wrk(f"http://127.0.0.1:{port}/agent", seconds, connections)
    for label, args in (("API + worker", ()), ("API only (--no-worker)", ("--no-worker",))):
        ours = measure(seconds, connections, args)
        print(
            f"GET agent at c={connections}, {label}: {ours:.0f} req/s; constant FastAPI app: "
            f"{baseline:.0f} req/s; ratio {ours / baseline:.2f}"
        )


def measure(seconds: int, connections: int, args: tuple[str, ...]) -> float:
    with loopwright_server(extra_args=args) as server:
        key = create_store(server.base_url, "bench")
        agent = httpx.post(
            f"{server.base_url}/v1/stores/bench/agents",
            json={"name": "bench-agent"},
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        url = f"{server.base_url}/v1/stores/bench/agents/{agent['id']}"
        return wrk(url, seconds, connections, key)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    main(args.seconds, args.connections)
