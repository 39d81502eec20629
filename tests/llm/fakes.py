"""Fake OpenAI, Anthropic and Gemini servers speaking the real streaming wire formats.

One ``FakeLLM`` holds a script of steps and a log of requests; ``openai_app``, ``anthropic_app`` and
``google_app`` render each step in their provider's format. ``serve`` runs an app under uvicorn on
127.0.0.1 in the current event loop.

    fake = FakeLLM()
    fake.push(Fail(429, retry_after="2"), Reply(text=["Hel", "lo"]))
    async with serve(openai_app(fake)) as base_url: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: dict[str, Any]
    id: str = "call_1"


@dataclass(frozen=True)
class Reply:
    """A successful streamed answer: reasoning, then text, then tool calls, then usage."""

    text: Sequence[str] = ()
    reasoning: Sequence[str] = ()
    tool_calls: Sequence[ToolCall] = ()
    input_tokens: int = 11
    output_tokens: int = 7
    break_after_text: bool = False
    """Send a server error inside the stream after the text, instead of finishing."""


@dataclass(frozen=True)
class Fail:
    """An HTTP error response before any streaming."""

    status: int
    message: str = "fake failure"
    retry_after: str | None = None


@dataclass(frozen=True)
class Stall:
    """Hold the request open without answering until the fake is reset."""


Step = Reply | Fail | Stall


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    peer: tuple[str, int] | None = None
    """The client's address: which connection the request came on."""


@dataclass
class FakeLLM:
    """The scripted behaviour and request log shared by the wire-format apps."""

    script: deque[Step] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, *steps: Step) -> None:
        self.script.extend(steps)

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()
        self._release.set()  # let stalled handlers finish
        self._release = asyncio.Event()

    async def take(self, request: Request) -> tuple[Step, dict[str, Any]]:
        raw = await request.body()
        body: dict[str, Any] = json.loads(raw) if raw else {}
        peer = (request.client.host, request.client.port) if request.client else None
        self.requests.append(Recorded(request.url.path, dict(request.headers), body, peer))
        step = (
            self.script.popleft() if self.script else Fail(500, "fake: no scripted response left")
        )
        if isinstance(step, Stall):
            await self._release.wait()
            step = Fail(503, "fake: released after stalling")
        return step, body


def _sse(data: object, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [text[:middle], text[middle:]]


def _headers(fail: Fail) -> dict[str, str]:
    return {"retry-after": fail.retry_after} if fail.retry_after is not None else {}


def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


# ------------------------------------------------------------------------- OpenAI chat completions
def _openai_stream(reply: Reply, model: str) -> Iterator[str]:
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    yield chunk({"role": "assistant", "content": ""})
    for piece in reply.reasoning:
        yield chunk({"reasoning_content": piece})
    for piece in reply.text:
        yield chunk({"content": piece})
    if reply.break_after_text:
        yield _sse(
            {"error": {"message": "fake: stream broke", "type": "server_error", "code": None}}
        )
        return
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, "id": call.id, "type": "function"}
        yield chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        for piece in _halves(json.dumps(call.args)):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
    usage = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }
    yield _sse({**base, "choices": [], "usage": usage})
    yield _sse("[DONE]")


def openai_app(fake: FakeLLM) -> Starlette:
    """``POST /v1/chat/completions``: give clients a base URL ending in ``/v1``."""

    async def chat(request: Request) -> Response:
        step, body = await fake.take(request)
        if isinstance(step, Fail):
            error = {"message": step.message, "type": "fake_error", "param": None, "code": None}
            return JSONResponse({"error": error}, step.status, headers=_headers(step))
        assert isinstance(step, Reply)
        return StreamingResponse(
            _openai_stream(step, body["model"]), media_type="text/event-stream"
        )

    return Starlette(
        routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/health", _health)]
    )


# ------------------------------------------------------------------------- Anthropic messages
def _anthropic_stream(reply: Reply, model: str) -> Iterator[str]:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
    }
    yield _sse({"type": "message_start", "message": message}, "message_start")
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if reply.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in reply.reasoning]
        signature = {"type": "signature_delta", "signature": "sig-1"}
        blocks.append(({"type": "thinking", "thinking": "", "signature": ""}, [*deltas, signature]))
    if reply.text:
        deltas = [{"type": "text_delta", "text": piece} for piece in reply.text]
        blocks.append(({"type": "text", "text": ""}, deltas))
    for call in reply.tool_calls:
        start = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in _halves(json.dumps(call.args))
        ]
        blocks.append((start, deltas))
    for index, (start, deltas) in enumerate(blocks):
        yield _sse(
            {"type": "content_block_start", "index": index, "content_block": start},
            "content_block_start",
        )
        for delta in deltas:
            yield _sse(
                {"type": "content_block_delta", "index": index, "delta": delta},
                "content_block_delta",
            )
        if reply.break_after_text and start["type"] == "text":
            error = {"type": "api_error", "message": "fake: stream broke"}
            yield _sse({"type": "error", "error": error}, "error")
            return
        yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
    stop = "tool_use" if reply.tool_calls else "end_turn"
    yield _sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
        "message_delta",
    )
    yield _sse({"type": "message_stop"}, "message_stop")


def anthropic_app(fake: FakeLLM) -> Starlette:
    """``POST /v1/messages``: give clients the root URL, without ``/v1``."""

    async def messages(request: Request) -> Response:
        step, body = await fake.take(request)
        if isinstance(step, Fail):
            error = {"type": "fake_error", "message": step.message}
            return JSONResponse(
                {"type": "error", "error": error}, step.status, headers=_headers(step)
            )
        assert isinstance(step, Reply)
        return StreamingResponse(
            _anthropic_stream(step, body["model"]), media_type="text/event-stream"
        )

    return Starlette(
        routes=[Route("/v1/messages", messages, methods=["POST"]), Route("/health", _health)]
    )


# ------------------------------------------------------------------------- Gemini
_GOOGLE_STATUS = {429: "RESOURCE_EXHAUSTED", 401: "UNAUTHENTICATED", 503: "UNAVAILABLE"}


def _google_error(status: int, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "status": _GOOGLE_STATUS.get(status, "INTERNAL"),
        }
    }


def _google_stream(reply: Reply, model: str) -> Iterator[str]:
    def chunk(parts: list[dict[str, Any]], last: bool = False) -> str:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        data: dict[str, Any] = {
            "candidates": [candidate],
            "modelVersion": model,
            "responseId": "r-1",
        }
        if last:
            candidate["finishReason"] = "STOP"
            data["usageMetadata"] = {
                "promptTokenCount": reply.input_tokens,
                "candidatesTokenCount": reply.output_tokens,
                "totalTokenCount": reply.input_tokens + reply.output_tokens,
            }
        return _sse(data)

    for piece in reply.reasoning:
        yield chunk([{"text": piece, "thought": True}])
    for piece in reply.text:
        yield chunk([{"text": piece}])
    if reply.break_after_text:
        yield _sse(_google_error(500, "fake: stream broke"))
        return
    for call in reply.tool_calls:  # Gemini sends a whole function call in one chunk
        yield chunk([{"functionCall": {"name": call.name, "args": call.args}}])
    yield chunk([], last=True)


def google_app(fake: FakeLLM) -> Starlette:
    """``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``: give clients the root URL."""

    async def generate(request: Request) -> Response:
        step, _ = await fake.take(request)
        model = request.path_params["target"].partition(":")[0]
        if isinstance(step, Fail):
            return JSONResponse(
                _google_error(step.status, step.message), step.status, headers=_headers(step)
            )
        assert isinstance(step, Reply)
        return StreamingResponse(_google_stream(step, model), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/v1beta/models/{target:str}", generate, methods=["POST"]),
            Route("/health", _health),
        ]
    )


# ------------------------------------------------------------------------- running
@contextlib.asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 (a free port) in this event loop; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            probe = asyncio.ensure_future(http.get("/health"))
            await asyncio.wait({task, probe}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                probe.cancel()
                task.result()
                raise RuntimeError("fake server exited during start-up")
            (await probe).raise_for_status()
        yield base_url
    finally:
        server.should_exit = True
        await task
        sock.close()
