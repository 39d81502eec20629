"""``OpenAIChatClient`` answers as pydantic-ai's own reader over the stock SDK does.

Each stream of the corpus is served over HTTP (an in-process transport) to both clients; the
responses (but for their clocks), the deltas and the failures must be the same. Streams in the
common shapes are folded by ``OpenAIChatClient`` itself; the others are handed to pydantic-ai
part-way, and the tests check which way each went.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from openai import AsyncOpenAI
from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelRequest
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from loopwright.engine.history import dump_response
from loopwright.llm import BreakerRegistry, ProviderError, ProviderSpec, PydanticAIClient
from loopwright.llm import build_client as build
from tests.llm.helpers import Deltas

BASE_URL = "http://127.0.0.1:9/v1"
TOOL = ToolDefinition(
    name="search",
    description="Search.",
    parameters_json_schema={"type": "object", "properties": {"q": {"type": "string"}}},
)
CLOCKS = ("timestamp", "request_timestamp", "duration")


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> Any:
    body: dict[str, Any] = {
        "id": "chatcmpl-7",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": "m-1-2025",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }
    body.update(top)
    return body


USAGE = chunk(
    choices=[],
    usage={
        "prompt_tokens": 31,
        "completion_tokens": 9,
        "total_tokens": 40,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 3},
    },
)


def call(index: int, *, id: str | None = None, name: str | None = None, args: str = "") -> Any:
    function: dict[str, Any] = {"arguments": args}
    if name is not None:
        function["name"] = name
    found: dict[str, Any] = {"index": index, "function": function}
    if id is not None:
        found.update(id=id, type="function")
    return found


FOLDED: dict[str, list[Any]] = {
    "text": [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo ünï"}),
        chunk({}, "stop"),
        USAGE,
    ],
    "tool calls": [
        chunk({"role": "assistant", "tool_calls": [call(0, id="c1", name="search")]}),
        chunk({"tool_calls": [call(0, args='{"q": ')]}),
        chunk({"tool_calls": [call(0, args='"x"}'), call(1, id="c2", name="search")]}),
        chunk({"tool_calls": [call(1, args="{}")]}),
        chunk({}, "tool_calls"),
        USAGE,
    ],
    "text, a call, text": [
        chunk({"content": "Looking."}),
        chunk({"tool_calls": [call(0, id="c1", name="search", args="{}")]}),
        chunk({"content": "Found."}, "stop"),
    ],
    "reasoning_content": [
        chunk({"reasoning_content": "think "}),
        chunk({"reasoning_content": "more"}),
        chunk({"content": "Answer."}),
        chunk({"reasoning_content": "again"}),
        chunk({"content": "Again."}, "stop"),
        USAGE,
    ],
    "reasoning, both fields": [
        chunk({"reasoning": "r1", "reasoning_content": "r1"}),
        chunk({"content": "A"}),
        chunk({"tool_calls": [call(0, id="c1", name="search", args="{}")]}, "tool_calls"),
    ],
    "no usage, no finish reason": [chunk({"content": "x"}), chunk({"content": "y"})],
    "no created, a service tier, null choices": [
        chunk({"content": "x"}, created=0, service_tier="default"),
        chunk(None, "length", choices=None),
        chunk(choices=[{"index": 0, "delta": None, "finish_reason": None}]),
        chunk({}, "length"),
    ],
    "an empty call arguments": [
        chunk({"tool_calls": [call(0, id="c1", name="search")]}),
        chunk({}, "tool_calls"),
    ],
}

HANDED_OVER: dict[str, list[Any]] = {
    "thinking tags": [
        chunk({"content": "<think>"}),
        chunk({"content": "hmm"}),
        chunk({"content": "</think>"}),
        chunk({"content": "Answer."}, "stop"),
    ],
    "text, then a thinking tag": [
        chunk({"content": "Pre"}),
        chunk({"content": "<think>"}),
        chunk({"content": "inner"}),
        chunk({"content": "</think>"}),
        chunk({"content": "post"}, "stop"),
        USAGE,
    ],
    "a refusal": [chunk({"refusal": "I can't."}), chunk({}, "stop")],
    "log-probabilities after text": [
        chunk({"content": "a"}),
        chunk(
            choices=[
                {
                    "index": 0,
                    "delta": {"content": "b"},
                    "finish_reason": None,
                    "logprobs": {
                        "content": [{"token": "b", "logprob": -0.1, "top_logprobs": []}],
                        "refusal": None,
                    },
                }
            ]
        ),
        chunk({"content": "c"}, "stop"),
    ],
    "a zero-width joiner in text": [
        chunk({"content": "see "}),
        chunk({"content": "<|im_\u200dstart|>"}),
        chunk({}, "stop"),
    ],
    "a call's name sent again": [
        chunk({"tool_calls": [call(0, id="c1", name="search")]}),
        chunk({"tool_calls": [call(0, name="search", args="{}")]}),
        chunk({}, "tool_calls"),
    ],
    "list content": [
        chunk({"content": "a"}),
        chunk({"content": [{"type": "text", "text": "b"}]}),
        chunk({}, "stop"),
    ],
    "annotations": [
        chunk({"content": "see x"}),
        chunk({"annotations": [{"type": "url_citation", "url_citation": {}}]}, "stop"),
    ],
    "a call that starts without its name": [
        chunk({"content": "a"}),
        chunk({"tool_calls": [call(0, id="c1")]}),
        chunk({"tool_calls": [call(0, name="search", args="{}")]}),
        chunk({}, "tool_calls"),
    ],
}


def sse(events: list[Any], *, done: bool = True) -> bytes:
    out = [f"data: {json.dumps(event)}\n\n" for event in events]
    return ("".join(out) + ("data: [DONE]\n\n" if done else "")).encode()


def serve(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    def handler(request: httpx2.Request) -> httpx2.Response:
        kind = "text/event-stream" if status == 200 else "application/json"
        return httpx2.Response(
            status, headers={"content-type": kind, **(headers or {})}, content=body
        )

    return httpx2.MockTransport(handler)


class HandOvers:
    """Counts the streams pydantic-ai's reader took over."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = OpenAIChatModel._process_streamed_response

        async def counted(model: OpenAIChatModel, *args: Any, **kw: Any) -> Any:
            self.count += 1
            return await original(model, *args, **kw)

        monkeypatch.setattr(OpenAIChatModel, "_process_streamed_response", counted)


async def both(
    transport: Any, hand_overs: HandOvers
) -> tuple[tuple[Any, Deltas, int], tuple[Any, Deltas]]:
    """(ours: outcome, deltas, hand-overs), (stock: outcome, deltas); an outcome is a response's
    dump without its clocks, or the ``ProviderError``'s fields."""
    results: list[tuple[Any, Deltas]] = []
    counts: list[int] = []
    async with httpx2.AsyncClient(transport=transport) as http:
        spec = ProviderSpec("openai", "openai", BASE_URL, "k")
        ours = build(spec, "m-1", breakers=BreakerRegistry(), http_client=http, attempts=1)
        sdk = AsyncOpenAI(api_key="k", base_url=BASE_URL, max_retries=0, http_client=http)
        stock = PydanticAIClient(
            OpenAIChatModel("m-1", provider=OpenAIProvider(openai_client=sdk)), "openai"
        )
        for client in (ours, stock):
            before = hand_overs.count
            deltas = Deltas()
            try:
                response = await client.complete(
                    [ModelRequest.user_text_prompt("hi")], [TOOL], {}, deltas
                )
            except ProviderError as exc:
                outcome: Any = (str(exc), exc.status_code, exc.retryable, exc.details)
            else:
                dumped = dump_response(response)
                assert all(dumped[key] is not None for key in CLOCKS)
                outcome = {k: v for k, v in dumped.items() if k not in CLOCKS}
            results.append((outcome, deltas))
            counts.append(hand_overs.count - before)
    (ours_outcome, ours_deltas), stock_result = results
    return (ours_outcome, ours_deltas, counts[0]), stock_result


def joined(deltas: Deltas) -> tuple[str, str]:
    return deltas.text("text"), deltas.text("reasoning")


@pytest.mark.parametrize("name", list(FOLDED))
async def test_a_stream_in_the_common_shapes_is_folded_as_pydantic_ai_reads_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hand_overs = HandOvers(monkeypatch)
    (ours, ours_deltas, handed), (stock, stock_deltas) = await both(
        serve(sse(FOLDED[name])), hand_overs
    )
    assert handed == 0
    assert ours == stock
    assert ours_deltas.received == stock_deltas.received


@pytest.mark.parametrize("name", list(HANDED_OVER))
async def test_a_stream_in_another_shape_is_handed_to_pydantic_ai_without_repeating_a_delta(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hand_overs = HandOvers(monkeypatch)
    (ours, ours_deltas, handed), (stock, stock_deltas) = await both(
        serve(sse(HANDED_OVER[name])), hand_overs
    )
    assert handed == 1
    assert ours == stock
    assert joined(ours_deltas) == joined(stock_deltas)


def _failures() -> Iterator[tuple[str, Any]]:
    error = {"error": {"message": "slow down", "type": "rate_limit", "code": "rate_limited"}}
    yield "429", serve(json.dumps(error).encode(), 429, {"retry-after": "3"})
    quota = {"error": {"message": "no credit", "type": "x", "code": "insufficient_quota"}}
    yield "quota", serve(json.dumps(quota).encode(), 429)
    yield "500, not JSON", serve(b"upstream exploded", 500)
    broken = [chunk({"content": "a"}), {"error": {"message": "stream broke", "type": "server"}}]
    yield "an error inside the stream", serve(sse(broken, done=False))
    yield "a chunk that is not JSON", serve(b'data: {"id": \n\n')
    yield "an empty stream", serve(b"data: [DONE]\n\n")
    yield "no body at all", serve(b"")


@pytest.mark.parametrize(("name", "transport"), list(_failures()))
async def test_a_failure_reads_as_it_does_through_the_sdk(
    name: str, transport: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ours, _, _), (stock, _) = await both(transport, HandOvers(monkeypatch))
    assert isinstance(ours, tuple)
    assert ours == stock


async def test_a_connection_that_fails_reads_as_it_does_through_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    (ours, _, _), (stock, _) = await both(httpx2.MockTransport(refuse), HandOvers(monkeypatch))
    assert ours == stock
    assert ours[2] is True  # retryable


async def test_other_event_lines_and_multi_line_data_read_as_the_sdk_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = json.dumps(chunk({"content": "a"}))
    split = json.dumps(chunk({"content": "b"}, "stop"), indent=1).split("\n")
    body = (
        ": keep-alive\n\n"
        f"event: message\nid: 1\ndata: {first}\n\n"
        + "".join(f"data: {line}\n" for line in split)
        + "\ndata: [DONE]\n\n"
    ).encode()
    (ours, ours_deltas, handed), (stock, _) = await both(serve(body), HandOvers(monkeypatch))
    assert handed == 0
    assert ours == stock
    assert ours_deltas.text() == "ab"


async def test_a_block_without_data_is_no_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``retry:``-only block dispatches nothing (the SSE standard); the SDK parses its empty
    data as JSON and fails the request: here it reads on."""
    body = sse([chunk({"content": "a"}, "stop")]).replace(
        b"data: [DONE]", b"retry: 10\n\ndata: [DONE]"
    )
    (ours, ours_deltas, _), (stock, _) = await both(serve(body), HandOvers(monkeypatch))
    assert ours_deltas.text() == "a"
    assert isinstance(ours, dict)
    assert isinstance(stock, tuple) and "Failed to decode" in stock[0]


async def test_a_model_whose_profile_changes_how_chunks_read_is_read_by_pydantic_ai(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Qwen's profile drops whitespace that leads a streamed text: such a model's streams are
    handed over from their first chunk."""
    from pydantic_ai.profiles.openai import OpenAIModelProfile

    from loopwright.llm._openai_sdk import CapturingAsyncOpenAI
    from loopwright.llm.openai_chat import OpenAIChatClient

    profile = OpenAIModelProfile(ignore_streamed_leading_whitespace=True)
    stream = [chunk({"content": "\n\n"}), chunk({"content": "Answer."}, "stop"), USAGE]
    hand_overs = HandOvers(monkeypatch)
    outcomes = []
    async with httpx2.AsyncClient(transport=serve(sse(stream))) as http:
        sdk = CapturingAsyncOpenAI(api_key="k", base_url=BASE_URL, max_retries=0, http_client=http)
        ours = OpenAIChatClient(
            OpenAIChatModel("m-1", provider=OpenAIProvider(openai_client=sdk), profile=profile),
            sdk,
            http,
            "openai",
        )
        stock_sdk = AsyncOpenAI(api_key="k", base_url=BASE_URL, max_retries=0, http_client=http)
        stock = PydanticAIClient(
            OpenAIChatModel(
                "m-1", provider=OpenAIProvider(openai_client=stock_sdk), profile=profile
            ),
            "openai",
        )
        for client in (ours, stock):
            deltas = Deltas()
            response = await client.complete([ModelRequest.user_text_prompt("hi")], [], {}, deltas)
            dumped = dump_response(response)
            outcomes.append(({k: v for k, v in dumped.items() if k not in CLOCKS}, deltas.text()))
    assert hand_overs.count == 2
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1] == "Answer."
