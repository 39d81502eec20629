"""Team mode: planning overhead and the plan phase's speed-up, against a fake model at 300 ms.

A team agent gets "parallel N" (N independent steps) or "chain N" (the same N steps, each
depending on the one before: the steps one after another, through the same machinery). The
fake OpenAI-compatible model (in this process) answers every request after ``--latency-ms``:
the planner's first request with a ``team_decide`` plan, each executor with a short text, the
synthesis with a short text. From the server's own event timestamps, per N:

  * to first executor: ``chat.message_sent`` → the first executor's ``run.started``; the
    planning overhead is that minus the planner's one model request (the latency);
  * plan phase: the first ``plan.step_started`` → the last ``plan.step_completed``;
  * speed-up: the chain's plan phase / the parallel plan's (ideal N).

    .venv/bin/python -m bench.team_plan [--latency-ms 300] [--repeats 3] [--steps 1 2 4 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import statistics
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from bench.harness import create_store, loopwright_server

LATENCY_S = 0.3
_ASK = re.compile(r"\b(parallel|chain) (\d+)\b")


def _chunk(delta: dict[str, object], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-team",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def _plan(kind: str, n: int) -> dict[str, Any]:
    steps = [
        {
            "id": f"s{i}",
            "title": f"part {i}",
            "instructions": f"work on part {i}",
            "depends_on": [f"s{i - 1}"] if kind == "chain" and i > 0 else [],
        }
        for i in range(n)
    ]
    return {"route": "complex", "reason": f"{n} parts", "plan": {"steps": steps}}


async def _stream(body: dict[str, Any]) -> AsyncIterator[str]:
    await asyncio.sleep(LATENCY_S)
    tools = {t["function"]["name"] for t in body.get("tools") or []}
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    prompt = str(users[-1].get("content", "")) if users else ""
    asked = _ASK.search(prompt)
    if "team_decide" in tools and asked:
        args = json.dumps(_plan(asked.group(1), int(asked.group(2))))
        call = {
            "index": 0,
            "id": f"call_{uuid.uuid4().hex[:8]}",
            "type": "function",
            "function": {"name": "team_decide", "arguments": args},
        }
        yield _chunk({"role": "assistant", "tool_calls": [call]})
        yield _chunk({}, "tool_calls")
    else:
        yield _chunk({"role": "assistant", "content": "done: "})
        yield _chunk({"content": prompt.splitlines()[0][:40] if prompt else "ok"}, "stop")
    usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
    tail = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "bench"}
    yield f"data: {json.dumps({**tail, 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"


async def _completions(request: Request) -> StreamingResponse:
    return StreamingResponse(_stream(await request.json()), media_type="text/event-stream")


FAKE = Starlette(routes=[Route("/v1/chat/completions", _completions, methods=["POST"])])


async def _serve_fake() -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(FAKE, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, task


def _at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["created_at"]).timestamp()


async def _trial(http: httpx.AsyncClient, agent_id: str, kind: str, n: int) -> dict[str, float]:
    chat = (await http.post("/sessions", json={"agent_id": agent_id})).json()
    sent = await http.post(f"/sessions/{chat['id']}/messages", json={"content": f"{kind} {n}"})
    run_id = sent.json()["run"]["id"]
    done = (await http.post(f"/runs/{run_id}/wait", params={"timeout_s": 120})).json()
    assert done["status"] == "completed", done
    mine = (await http.get("/events", params={"run_id": run_id, "limit": 500})).json()["items"]
    kids = (await http.get("/runs", params={"parent_run_id": run_id})).json()["items"]
    assert len(kids) == n, kids
    starts = []
    for kid in kids:
        found = await http.get(
            "/events", params={"run_id": kid["id"], "types": "run.started", "limit": 5}
        )
        starts.append(_at(found.json()["items"][0]))
    sent_at = next(_at(e) for e in mine if e["type"] == "chat.message_sent")
    step_started = [_at(e) for e in mine if e["type"] == "plan.step_started"]
    step_done = [_at(e) for e in mine if e["type"] == "plan.step_completed"]
    return {
        "first_executor_s": min(starts) - sent_at,
        "plan_phase_s": max(step_done) - min(step_started),
    }


async def main(latency_ms: float, repeats: int, sizes: list[int]) -> None:
    global LATENCY_S
    LATENCY_S = latency_ms / 1000
    fake_url, fake, fake_task = await _serve_fake()
    env = {"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32", "LOOPWRIGHT_STORE_CONCURRENCY": "10"}
    try:
        with loopwright_server(env) as server:
            key = await asyncio.to_thread(create_store, server.base_url, "bench-team")
            async with httpx.AsyncClient(
                base_url=f"{server.base_url}/v1/stores/bench-team",
                headers={"Authorization": f"Bearer {key}"},
                timeout=180,
            ) as http:
                provider = {"name": "fake", "kind": "openai", "base_url": f"{fake_url}/v1"}
                r = await http.post("/providers", json={**provider, "api_key": "k"})
                r.raise_for_status()
                agent = {"name": "team", "model": "fake:bench", "mode": "team", "max_steps": 30}
                agent_id = (await http.post("/agents", json=agent)).json()["id"]
                await _trial(http, agent_id, "parallel", 1)  # warm-up
                print(f"fake model latency {latency_ms:.0f} ms, median of {repeats} runs")
                print(
                    "   N  to first executor  planning overhead  plan phase: parallel"
                    "    chain  speed-up"
                )
                for n in sizes:
                    par = [await _trial(http, agent_id, "parallel", n) for _ in range(repeats)]
                    seq = [await _trial(http, agent_id, "chain", n) for _ in range(repeats)]
                    first = statistics.median(t["first_executor_s"] for t in par)
                    par_s = statistics.median(t["plan_phase_s"] for t in par)
                    seq_s = statistics.median(t["plan_phase_s"] for t in seq)
                    print(
                        f"{n:4d}  {first * 1000:14.0f} ms  {(first - LATENCY_S) * 1000:14.0f} ms"
                        f"  {par_s * 1000:17.0f} ms  {seq_s * 1000:6.0f} ms"
                        f"  {seq_s / par_s:7.2f}x"
                    )
    finally:
        fake.should_exit = True
        await fake_task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    asyncio.run(main(args.latency_ms, args.repeats, args.steps))
