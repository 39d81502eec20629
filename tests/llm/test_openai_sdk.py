"""The captured chat-completions request is exactly what the stock SDK sends, without its walk."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import typing
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from openai import AsyncOpenAI
from openai._utils import PropertyInfo
from openai.resources.chat.completions import completions as completions_module
from openai.types.chat import completion_create_params
from pydantic_ai import ToolDefinition
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from loopwright.llm import BreakerRegistry, ProviderSpec, PydanticAIClient, build_client
from loopwright.llm._openai_sdk import CapturingAsyncOpenAI
from tests.llm.fakes import Reply
from tests.llm.helpers import API_KEY, Deltas, Endpoint

SEARCH = ToolDefinition(
    name="search_documents",
    description="Full-text search.",
    parameters_json_schema={
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["query"],
    },
)


def _conversation() -> list[ModelMessage]:
    return [
        ModelRequest(parts=[SystemPromptPart("Be brief."), UserPromptPart("find the invoices")]),
        ModelResponse(
            parts=[
                TextPart("Searching."),
                ToolCallPart("search_documents", {"query": "invoice"}, tool_call_id="c1"),
            ]
        ),
        ModelRequest(
            parts=[ToolReturnPart("search_documents", [{"id": "doc_1"}], tool_call_id="c1")]
        ),
        ModelResponse(parts=[TextPart("One invoice: doc_1.")]),
        ModelRequest(parts=[UserPromptPart("and receipts? ünïcödé")]),
    ]


def _annotations(tp: Any, seen: set[int]) -> list[PropertyInfo]:
    """Every ``PropertyInfo`` reachable from a request type (what the SDK's walk acts on)."""
    if id(tp) in seen:
        return []
    seen.add(id(tp))
    found: list[PropertyInfo] = []
    if typing.get_origin(tp) is typing.Annotated:
        found += [a for a in tp.__metadata__ if isinstance(a, PropertyInfo)]
    if typing.is_typeddict(tp):
        for hint in typing.get_type_hints(tp, include_extras=True).values():
            found += _annotations(hint, seen)
    for arg in typing.get_args(tp):
        found += _annotations(arg, seen)
    return found


def test_no_chat_completion_request_type_is_transformed_by_the_sdk() -> None:
    """The capture is only equivalent while the SDK has nothing to rename or format."""
    roots = (
        completion_create_params.CompletionCreateParamsStreaming,
        completion_create_params.CompletionCreateParamsNonStreaming,
    )
    acting = [
        info
        for root in roots
        for info in _annotations(root, set())
        if info.alias or info.format or info.format_template
    ]
    assert acting == []


async def test_the_request_body_is_the_one_the_stock_sdk_sends(
    fresh: dict[str, Endpoint], deltas: Deltas, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = fresh["openai"]
    endpoint.fake.push(Reply(text=["ok"]), Reply(text=["ok"]))
    settings: Any = {
        "temperature": 0.2,
        "max_tokens": 50,
        "top_p": 0.9,
        "seed": 7,
        "stop_sequences": ["END"],
        "parallel_tool_calls": False,
        "presence_penalty": 0.1,
        "logit_bias": {"50256": -100},
        "extra_body": {"top_k": 40, "temperature": 0.3},
        "extra_headers": {"x-trace": "t-1"},
    }
    walked: list[int] = []
    sdk_walk = completions_module.async_maybe_transform

    async def recording_walk(data: Any, expected_type: Any) -> Any:
        walked.append(len(data.get("messages", [])))
        return await sdk_walk(data, expected_type)

    monkeypatch.setattr(completions_module, "async_maybe_transform", recording_walk)

    client = build_client(endpoint.spec(), "m-1", breakers=BreakerRegistry())
    await client.complete(_conversation(), [SEARCH], settings, deltas)
    assert walked == []  # the SDK's walk never ran
    stock_sdk = AsyncOpenAI(api_key=API_KEY, base_url=endpoint.base_url, max_retries=0)
    stock = PydanticAIClient(
        OpenAIChatModel("m-1", provider=OpenAIProvider(openai_client=stock_sdk)), "openai"
    )
    await stock.complete(_conversation(), [SEARCH], settings, deltas)
    assert walked == [6]  # the stock SDK walks the whole conversation

    ours, stock_request = endpoint.fake.requests
    ours_body, stock_body = ours.body, stock_request.body
    assert ours_body == stock_body
    assert (ours_body["temperature"], ours_body["top_k"], ours_body["seed"]) == (0.3, 40, 7)
    assert ours.headers["x-trace"] == "t-1"
    for header in ("authorization", "user-agent", "x-stainless-lang", "content-type"):
        assert ours.headers[header] == stock_request.headers[header]
    assert [m["role"] for m in ours_body["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert ours_body["tools"][0]["function"]["name"] == "search_documents"


async def test_other_apis_and_copies_keep_the_capture(fresh: dict[str, Endpoint]) -> None:
    endpoint = fresh["openai"]
    client = CapturingAsyncOpenAI(api_key=API_KEY, base_url=endpoint.base_url)
    copy = client.with_options(max_retries=1)

    assert type(copy.chat.completions).__name__ == "_CapturingCompletions"
    assert type(AsyncOpenAI(api_key=API_KEY).chat.completions).__name__ == "AsyncCompletions"


def _chunk(**fields: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}],
        **fields,
    }


def test_streamed_chunks_are_validated_fast_and_off_schema_ones_still_parse() -> None:
    from openai.types.chat import ChatCompletionChunk

    ours = CapturingAsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1")
    stock = AsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1")
    response = httpx2.Response(200)

    def both(data: dict[str, Any]) -> tuple[ChatCompletionChunk, ChatCompletionChunk]:
        return (
            ours._process_response_data(data=data, cast_to=ChatCompletionChunk, response=response),
            stock._process_response_data(data=data, cast_to=ChatCompletionChunk, response=response),
        )

    fast, lenient = both(_chunk())
    assert fast.model_dump() == lenient.model_dump()
    assert fast.choices[0].delta.content == "hi"

    fast, lenient = both(_chunk(created="5"))  # validation coerces; construction keeps it
    assert (fast.created, lenient.created) == (5, "5")

    fast, lenient = both(_chunk(created="soon"))  # off-schema: the lenient way on both
    assert fast.created == lenient.created == "soon"
    assert fast.choices[0].delta.content == "hi"


async def test_a_stream_ends_its_readers_and_gives_its_connection_back(
    fresh: dict[str, Endpoint], deltas: Deltas
) -> None:
    """At ``[DONE]`` the SDK left four nested async generators suspended, each closed later in
    a task of its own; the stream's line reader ends with the body, and the connection is
    reused."""
    endpoint = fresh["openai"]
    endpoint.fake.push(Reply(text=["a", "b"]), Reply(text=["c"]))
    hooks = sys.get_asyncgen_hooks()
    assert hooks.finalizer is not None
    dropped: list[str] = []

    def finalizer(agen: Any) -> None:
        dropped.append(agen.__qualname__)
        hooks.finalizer(agen)  # type: ignore[misc]

    sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=finalizer)
    try:
        async with httpx2.AsyncClient(timeout=10) as http:
            client = build_client(
                endpoint.spec(), "m-1", breakers=BreakerRegistry(), http_client=http
            )
            first = await client.complete([ModelRequest.user_text_prompt("hi")], [], {}, deltas)
            second = await client.complete([ModelRequest.user_text_prompt("hi")], [], {}, deltas)
            gc.collect()
            connections = http._transport._pool.connections  # type: ignore[attr-defined]
            assert len(connections) == 1
    finally:
        sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=hooks.finalizer)

    assert [p.content for p in first.parts + second.parts] == ["ab", "c"]  # type: ignore[union-attr]
    assert dropped == []


async def test_a_body_that_goes_on_after_done_is_left_after_the_drain_time(
    deltas: Deltas,
) -> None:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m-1",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
    }

    async def body() -> AsyncIterator[bytes]:
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b"data: [DONE]\n\n"
        await asyncio.sleep(60)  # a server that keeps the body open after [DONE]
        yield b": late\n\n"

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        spec = ProviderSpec("openai", "openai", "http://127.0.0.1:9/v1", "k")
        client = build_client(spec, "m-1", breakers=BreakerRegistry(), http_client=http)
        began = time.monotonic()
        response = await asyncio.wait_for(
            client.complete([ModelRequest.user_text_prompt("hi")], [], {}, deltas), 10
        )

    assert time.monotonic() - began < 5
    assert [p.content for p in response.parts] == ["hi"]  # type: ignore[union-attr]
