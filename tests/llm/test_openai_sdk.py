"""The chat-completions pass-through sends exactly what the stock SDK sends, without its walk."""

from __future__ import annotations

import typing
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

from loopwright.llm import BreakerRegistry, PydanticAIClient, build_client
from loopwright.llm._openai_sdk import PassThroughAsyncOpenAI
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
    """The pass-through is only equivalent while the SDK has nothing to rename or format."""
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
    assert [m["role"] for m in ours_body["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert ours_body["tools"][0]["function"]["name"] == "search_documents"


async def test_other_apis_and_copies_keep_the_pass_through(fresh: dict[str, Endpoint]) -> None:
    endpoint = fresh["openai"]
    client = PassThroughAsyncOpenAI(api_key=API_KEY, base_url=endpoint.base_url)
    copy = client.with_options(max_retries=1)

    assert type(copy.chat.completions).__name__ == "_PassThroughCompletions"
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

    ours = PassThroughAsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1")
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
