"""Events per second the async client's event iterator parses from one SSE stream, beside a
bare httpx reader, on the same run.

A real server runs one run of a fake OpenAI-compatible model that streams ``--deltas`` text
deltas. Two readers follow the session's stream at once while it runs: the client's iterator
(``AsyncClient.events.stream``: SSE framing, resume bookkeeping, each event validated into its
typed model) and a bare reader (``httpx`` ``aiter_lines`` + ``json.loads`` of each ``data``).
Live, both are paced by the server; so the bare reader also records the stream's bytes, and
both readers then parse that recording again from memory (an ``httpx.MockTransport``), which
measures the readers themselves.

    python -m bench.client_events [--deltas 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from bench.harness import create_store, free_port, loopwright_server, process
from loopwright.client import AsyncClient

DELTAS = int(os.environ.get("BENCH_DELTAS", "5000"))


def _chunk(delta: dict[str, object], finish: str | None = None) -> str:
    body = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def _many_deltas() -> AsyncIterator[str]:
    yield _chunk({"role": "assistant", "content": ""})
    for i in range(DELTAS):
        yield _chunk({"content": f"w{i} "})
    yield _chunk({}, "stop")
    usage = {"prompt_tokens": 1, "completion_tokens": DELTAS, "total_tokens": DELTAS + 1}
    yield f"data: {json.dumps({'id': 'c', 'object': 'chat.completion.chunk', 'created': 0, 'model': 'm', 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"


async def _chat(request: Request) -> StreamingResponse:
    await request.body()
    return StreamingResponse(_many_deltas(), media_type="text/event-stream")


async def _health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


fake_app = Starlette(
    routes=[Route("/v1/chat/completions", _chat, methods=["POST"]), Route("/health", _health)]
)


async def bare_reader(
    http: httpx.AsyncClient, path: str, params: dict[str, str], record: list[str] | None
) -> tuple[int, float]:
    """Frames until run.completed: (events, seconds from the first to the last)."""
    count, first = 0, 0.0
    headers = {"Accept": "text/event-stream"}
    async with http.stream("GET", path, params=params, headers=headers) as response:
        async for line in response.aiter_lines():
            if record is not None:
                record.append(line)
            if line.startswith("data:"):
                event = json.loads(line[5:])
                count += 1
                first = first or time.perf_counter()
                if event["type"] == "run.completed":
                    return count, time.perf_counter() - first
    raise RuntimeError("the stream ended before the run did")


async def client_reader(lw: AsyncClient, after: int, session_id: str) -> tuple[int, float]:
    count, first = 0, 0.0
    async for event in lw.events.stream(after=after, session_id=session_id):
        count += 1
        first = first or time.perf_counter()
        if event.type == "run.completed":
            return count, time.perf_counter() - first
    raise RuntimeError("the stream ended before the run did")


def rate(result: tuple[int, float]) -> float:
    return result[0] / result[1] if result[1] else float("inf")


async def live(base_url: str, key: str, model_url: str) -> list[str]:
    recorded: list[str] = []
    async with AsyncClient(base_url, key, store="bench", timeout_s=120) as lw:
        await lw.providers.create("fake", "openai", base_url=f"{model_url}/v1", api_key="k")
        agent = await lw.agents.create(name="talker", model="fake:m")
        session = await lw.sessions.create(agent.id)
        head = await lw.events.head()
        path = "/v1/stores/bench/events"
        params = {"after": str(head), "session_id": session.id}
        bare = asyncio.create_task(bare_reader(lw.http, path, params, recorded))
        typed = asyncio.create_task(client_reader(lw, head, session.id))
        await asyncio.sleep(0.5)  # both streams open before the run starts
        await lw.sessions.send(session.id, "talk")
        bare_result, typed_result = await asyncio.gather(bare, typed)
    print(
        f"live, one run ({bare_result[0]} events, both readers at once): "
        f"bare httpx {rate(bare_result):,.0f} events/s, client iterator "
        f"{rate(typed_result):,.0f} events/s (paced by the server)"
    )
    return recorded


async def replay(recorded: list[str], repeat: int) -> None:
    body = ("\n".join(recorded) + "\n\n").encode()  # the last frame ends with a blank line

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    transport = httpx.MockTransport(handler)
    bare_best = typed_best = 0.0
    count = 0
    for _ in range(repeat):
        async with httpx.AsyncClient(base_url="http://bench", transport=transport) as http:
            start = time.perf_counter()
            count, _ = await bare_reader(http, "/events", {}, None)
            bare_best = max(bare_best, count / (time.perf_counter() - start))
        async with AsyncClient("http://bench", "k", store="bench", transport=transport) as lw:
            start = time.perf_counter()
            typed_count, _ = await client_reader(lw, 0, "s")
            typed_best = max(typed_best, typed_count / (time.perf_counter() - start))
    print(
        f"replayed from memory ({count} events, best of {repeat}): bare httpx "
        f"{bare_best:,.0f} events/s, client iterator {typed_best:,.0f} events/s "
        f"(ratio {typed_best / bare_best:.2f})"
    )


def main(repeat: int) -> None:
    port = free_port()
    model_url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "uvicorn", "bench.client_events:fake_app", "--port", str(port)]
    with (
        process([*cmd, "--log-level", "warning"], f"{model_url}/health"),
        loopwright_server({"LOOPWRIGHT_EGRESS_ALLOW": "127.0.0.1/32"}) as server,
    ):
        key = create_store(server.base_url, "bench")
        recorded = asyncio.run(live(server.base_url, key, model_url))
    asyncio.run(replay(recorded, repeat))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deltas", type=int, default=DELTAS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["BENCH_DELTAS"] = str(args.deltas)  # the fake model's process reads it
    main(args.repeat)
