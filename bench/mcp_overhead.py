"""Overhead of an MCP tool call through the server (POST /tools/{server.tool}/test) beside
calling the same MCP server directly with the ``mcp`` client, in one run (p50 ratio).

    .venv/bin/python -m bench.mcp_overhead [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from bench.harness import create_store, free_port, loopwright_server, percentile


async def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("MCP server did not start")


async def direct(url: str, calls: int) -> list[float]:
    samples = []
    async with (
        httpx2.AsyncClient() as http,
        streamable_http_client(url, http_client=http) as (
            read,
            write,
            *_,
        ),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        await session.list_tools()
        for _ in range(calls):
            started = time.perf_counter()
            await session.call_tool("add", {"a": 1, "b": 2})
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def through_server(base_url: str, mcp_url: str, calls: int) -> list[float]:
    key = create_store(base_url, "bench")
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {key}"}
    ) as c:
        r = await c.post(
            "/v1/stores/bench/mcp-servers",
            json={"name": "calc", "transport": "streamable_http", "url": mcp_url},
        )
        r.raise_for_status()
        for _ in range(5):  # connect and warm up
            (
                await c.post(
                    "/v1/stores/bench/tools/calc.add/test", json={"arguments": {"a": 1, "b": 2}}
                )
            ).raise_for_status()
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            r = await c.post(
                "/v1/stores/bench/tools/calc.add/test", json={"arguments": {"a": 1, "b": 2}}
            )
            samples.append((time.perf_counter() - started) * 1000)
            assert r.json()["ok"], r.text
    return samples


async def main(calls: int) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.mcp_server", str(port))
    try:
        await wait_port(port)
        url = f"http://127.0.0.1:{port}/mcp"
        ours_direct = await direct(url, calls)
        with loopwright_server({"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32"}) as server:
            ours = await through_server(server.base_url, url, calls)
    finally:
        proc.terminate()
        await proc.wait()
    d50, s50 = percentile(ours_direct, 0.5), percentile(ours, 0.5)
    print(
        f"MCP call direct (mcp client, persistent session): p50 {d50:.2f} ms, p99 {percentile(ours_direct, 0.99):.2f} ms"
    )
    print(
        f"MCP call through the server (HTTP + auth + pool): p50 {s50:.2f} ms, p99 {percentile(ours, 0.99):.2f} ms"
    )
    print(f"p50 ratio server/direct: {s50 / d50:.2f}; p50 overhead {s50 - d50:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    asyncio.run(main(parser.parse_args().calls))
