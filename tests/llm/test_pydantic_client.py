"""PydanticAIClient over pydantic-ai's FunctionModel: deltas, tools, and error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest
from pydantic_ai import ToolDefinition
from pydantic_ai.exceptions import (
    ModelConnectionError,
    ModelHTTPError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelServerError,
    ModelTimeoutError,
    UnexpectedModelBehavior,
)
from pydantic_ai.messages import ModelMessage, TextPart, ToolCallPart
from pydantic_ai.models.function import (
    AgentInfo,
    DeltaThinkingCalls,
    DeltaThinkingPart,
    DeltaToolCall,
    DeltaToolCalls,
    FunctionModel,
)

from loopwright.llm import ModelDelta, ProviderError, PydanticAIClient
from tests.llm.helpers import Deltas, ask

LOOKUP = ToolDefinition(
    name="lookup",
    parameters_json_schema={"type": "object", "properties": {"q": {"type": "string"}}},
)


async def test_forwards_reasoning_and_text_and_returns_tool_calls(deltas: Deltas) -> None:
    seen_tools: list[str] = []

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
        seen_tools.extend(tool.name for tool in info.function_tools)
        yield {0: DeltaThinkingPart(content="Let me think.")}
        yield "Look"
        yield "ing up."
        yield {2: DeltaToolCall(name="lookup", json_args='{"q": ', tool_call_id="c1")}
        yield {2: DeltaToolCall(json_args='"cats"}')}

    client = PydanticAIClient(FunctionModel(stream_function=stream, model_name="fn"), "local")

    response = await client.complete(ask("cats?"), [LOOKUP], {}, deltas)

    assert deltas.received == [
        ModelDelta("reasoning", "Let me think."),
        ModelDelta("text", "Look"),
        ModelDelta("text", "ing up."),
    ]
    assert [p.content for p in response.parts if isinstance(p, TextPart)] == ["Looking up."]
    [call] = [p for p in response.parts if isinstance(p, ToolCallPart)]
    assert (call.tool_name, call.args_as_dict(), call.tool_call_id) == (
        "lookup",
        {"q": "cats"},
        "c1",
    )
    assert seen_tools == ["lookup"]
    assert (client.provider, client.model) == ("local", "fn")


def failing(error: BaseException) -> PydanticAIClient:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        raise error
        yield ""  # pragma: no cover - makes this an async generator

    return PydanticAIClient(FunctionModel(stream_function=stream, model_name="fn"), "acme")


Category = type[
    ModelRateLimitError | ModelQuotaExceededError | ModelServerError | ModelRequestRejectedError
]


def http(
    category: Category | None,
    status: int,
    *,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> ModelHTTPError:
    return ModelHTTPError.for_category(
        category, status_code=status, model_name="fn", body=body, headers=headers
    )


@pytest.mark.parametrize(
    ("error", "status", "retryable", "retry_after", "phrase"),
    [
        (http(ModelServerError, 500, body={"error": {"message": "oops"}}), 500, True, None, "oops"),
        (http(ModelServerError, 503), 503, True, None, "HTTP 503"),
        (http(ModelRateLimitError, 429, headers={"retry-after": "7"}), 429, True, 7.0, "HTTP 429"),
        (http(ModelQuotaExceededError, 429), 429, False, None, "HTTP 429"),
        (http(ModelRequestRejectedError, 400), 400, False, None, "HTTP 400"),
        (http(None, 404), 404, False, None, "HTTP 404"),
        (ModelConnectionError("fn", "refused"), None, True, None, "connection failed"),
        (ModelTimeoutError("fn", "slow"), None, True, None, "timed out"),
        (httpx2.ReadTimeout("slow"), None, True, None, "timed out"),
        (TimeoutError(), None, True, None, "timed out"),
        (httpx2.ConnectError("refused"), None, True, None, "connection failed"),
        (UnexpectedModelBehavior("garbled"), None, False, None, "unusable response"),
    ],
)
async def test_maps_failures_to_provider_errors(
    error: BaseException,
    status: int | None,
    retryable: bool,
    retry_after: float | None,
    phrase: str,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await failing(error).complete(ask("hi"), [], {}, Deltas())

    mapped = caught.value
    assert (mapped.status_code, mapped.retryable, mapped.retry_after_s) == (
        status,
        retryable,
        retry_after,
    )
    assert mapped.provider == "acme"
    assert phrase in mapped.message
    assert mapped.message.startswith("acme:fn ")
    assert mapped.__cause__ is error


async def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError):
        await failing(KeyError("bug")).complete(ask("hi"), [], {}, Deltas())
