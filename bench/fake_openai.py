"""A minimal OpenAI-compatible chat-completions server for benchmarks.

Streams a tool call (``list_projects``) unless the last message is a tool result, then a short
text answer (so every turn is two model calls and one tool call); usage included.
``FAKE_LATENCY_MS`` delays each response (the time to its first token), ``FAKE_TOKEN_MS``
each chunk after the first, and ``FAKE_ANSWER_TOKENS`` (default 2) is how many chunks the
answer streams in.

    uvicorn bench.fake_openai:app --port 9000
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

_call_ids = itertools.count(1)
LATENCY_S = float(os.environ.get("FAKE_LATENCY_MS", "0")) / 1000
TOKEN_S = float(os.environ.get("FAKE_TOKEN_MS", "0")) / 1000
ANSWER_TOKENS = max(2, int(os.environ.get("FAKE_ANSWER_TOKENS", "2")))


def _chunk(delta: dict[str, object], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def _stream(has_result: bool) -> AsyncIterator[str]:
    if LATENCY_S:
        await asyncio.sleep(LATENCY_S)
    if has_result:
        yield _chunk({"role": "assistant", "content": "You have "})
        for _ in range(ANSWER_TOKENS - 2):
            if TOKEN_S:
                await asyncio.sleep(TOKEN_S)
            yield _chunk({"content": "really "})
        if TOKEN_S:
            await asyncio.sleep(TOKEN_S)
        yield _chunk({"content": "no projects."}, "stop")
    else:
        call = {
            "index": 0,
            "id": f"call_{next(_call_ids)}",
            "type": "function",
            "function": {"name": "list_projects", "arguments": "{}"},
        }
        yield _chunk({"role": "assistant", "tool_calls": [call]})
        if TOKEN_S:
            await asyncio.sleep(TOKEN_S)
        yield _chunk({}, "tool_calls")
    usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
    yield f"data: {json.dumps({'id': 'x', 'object': 'chat.completion.chunk', 'created': 0, 'model': 'bench', 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"


async def completions(request: Request) -> StreamingResponse:
    body = await request.json()
    messages = body.get("messages") or [{}]
    has_result = messages[-1].get("role") == "tool"
    return StreamingResponse(_stream(has_result), media_type="text/event-stream")


async def health(_: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[Route("/v1/chat/completions", completions, methods=["POST"]), Route("/health", health)]
)
