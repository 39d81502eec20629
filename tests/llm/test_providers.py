"""Each provider kind end to end: ``build_client`` against a fake server on loopback."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from pydantic_ai import ToolDefinition
from pydantic_ai.messages import TextPart, ToolCallPart

from loopwright.llm import (
    BreakerRegistry,
    CircuitOpen,
    FallbackClient,
    ModelDelta,
    ProviderError,
    ProviderKind,
    build_client,
)
from tests.llm.fakes import Fail, Recorded, Reply, Stall, ToolCall
from tests.llm.helpers import API_KEY, Clock, Deltas, Endpoint, Sleeps, ask

WEATHER = ToolDefinition(
    name="get_weather",
    description="Current weather in a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


def sent_key(kind: ProviderKind, request: Recorded) -> str | None:
    if kind == "google":
        return request.headers.get("x-goog-api-key")
    if kind == "anthropic" and "x-api-key" in request.headers:
        return request.headers["x-api-key"]
    return request.headers.get("authorization", "").removeprefix("Bearer ") or None


def sent_tools(kind: ProviderKind, body: dict[str, Any]) -> list[str]:
    if kind == "openai":
        return [tool["function"]["name"] for tool in body["tools"]]
    if kind == "anthropic":
        return [tool["name"] for tool in body["tools"]]
    return [decl["name"] for decl in body["tools"][0]["functionDeclarations"]]


async def test_streams_deltas_tool_call_and_usage(
    endpoint: Endpoint, deltas: Deltas, sleeps: Sleeps
) -> None:
    endpoint.fake.push(
        Reply(
            reasoning=["Thinking ", "hard."],
            text=["Hello", ", ", "world."],
            tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_7")],
            input_tokens=21,
            output_tokens=9,
        )
    )
    client = build_client(endpoint.spec(), "m-1", breakers=BreakerRegistry(), sleep=sleeps)

    response = await client.complete(
        ask("What's the weather in Paris?"), [WEATHER], {"max_tokens": 300}, deltas
    )

    assert deltas.received == [
        ModelDelta("reasoning", "Thinking "),
        ModelDelta("reasoning", "hard."),
        ModelDelta("text", "Hello"),
        ModelDelta("text", ", "),
        ModelDelta("text", "world."),
    ]
    texts = [p.content for p in response.parts if isinstance(p, TextPart)]
    calls = [p for p in response.parts if isinstance(p, ToolCallPart)]
    assert texts == ["Hello, world."]
    assert [(c.tool_name, c.args_as_dict()) for c in calls] == [("get_weather", {"city": "Paris"})]
    if endpoint.kind != "google":  # Gemini sends no call ids; pydantic-ai makes one up
        assert calls[0].tool_call_id == "call_7"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (21, 9)
    assert (response.model_name, response.provider_name) == ("m-1", endpoint.kind)
    assert (client.provider, client.model) == (endpoint.kind, "m-1")

    [request] = endpoint.fake.requests
    assert sent_key(endpoint.kind, request) == API_KEY
    assert sent_tools(endpoint.kind, request.body) == ["get_weather"]
    assert "What's the weather in Paris?" in json.dumps(request.body)
    assert sleeps.calls == []


async def test_429_is_retried_after_the_requested_wait(
    endpoint: Endpoint, deltas: Deltas, sleeps: Sleeps
) -> None:
    endpoint.fake.push(Fail(429, "slow down", retry_after="3"), Reply(text=["Fine."]))
    client = build_client(endpoint.spec(), "m-1", breakers=BreakerRegistry(), sleep=sleeps)

    response = await client.complete(ask("hi"), [], {}, deltas)

    assert [p.content for p in response.parts if isinstance(p, TextPart)] == ["Fine."]
    assert len(endpoint.fake.requests) == 2
    assert sleeps.calls == [3.0]  # jitter alone would be at most 0.5s on the first retry


async def test_401_fails_at_once_with_a_clear_error(endpoint: Endpoint, sleeps: Sleeps) -> None:
    endpoint.fake.push(Fail(401, "Invalid API key provided"))
    client = build_client(
        endpoint.spec(name="team-gateway"), "m-1", breakers=BreakerRegistry(), sleep=sleeps
    )

    with pytest.raises(ProviderError) as caught:
        await client.complete(ask("hi"), [], {}, Deltas())

    error = caught.value
    assert (error.status_code, error.retryable, error.provider) == (401, False, "team-gateway")
    assert "HTTP 401" in error.message
    assert "Invalid API key provided" in error.message
    assert "team-gateway:m-1" in error.message
    assert API_KEY not in str(error)
    assert len(endpoint.fake.requests) == 1
    assert sleeps.calls == []


async def test_repeated_500s_open_the_circuit(endpoint: Endpoint, clock: Clock) -> None:
    breakers = BreakerRegistry(failure_threshold=5, reset_after_s=30, clock=clock)
    client = build_client(endpoint.spec(), "m-1", breakers=breakers, attempts=1)
    endpoint.fake.push(*[Fail(500, "boom")] * 5)

    for _ in range(5):
        with pytest.raises(ProviderError) as caught:
            await client.complete(ask("hi"), [], {}, Deltas())
        assert not isinstance(caught.value, CircuitOpen)
        assert (caught.value.status_code, caught.value.retryable) == (500, True)

    with pytest.raises(CircuitOpen) as opened:
        await client.complete(ask("hi"), [], {}, Deltas())
    assert len(endpoint.fake.requests) == 5
    assert opened.value.retry_after_s == 30
    assert (opened.value.code, opened.value.retryable) == ("circuit_open", False)

    # a new client for the same endpoint shares the open breaker
    again = build_client(endpoint.spec(), "m-2", breakers=breakers, attempts=1)
    with pytest.raises(CircuitOpen):
        await again.complete(ask("hi"), [], {}, Deltas())
    assert len(endpoint.fake.requests) == 5

    clock.now += 30  # half-open: one trial goes through, and its success closes the circuit
    endpoint.fake.push(Reply(text=["back"]))
    response = await client.complete(ask("hi"), [], {}, Deltas())
    assert [p.content for p in response.parts if isinstance(p, TextPart)] == ["back"]
    assert len(endpoint.fake.requests) == 6
    assert list(breakers.states().values()) == ["closed"]


async def test_a_stalled_request_times_out_and_is_retried(
    endpoint: Endpoint, sleeps: Sleeps
) -> None:
    endpoint.fake.push(Stall(), Reply(text=["late"]))
    client = build_client(
        endpoint.spec(), "m-1", breakers=BreakerRegistry(), timeout_s=0.3, sleep=sleeps
    )

    response = await client.complete(ask("hi"), [], {}, Deltas())

    assert [p.content for p in response.parts if isinstance(p, TextPart)] == ["late"]
    assert len(endpoint.fake.requests) == 2
    assert len(sleeps.calls) == 1


async def test_a_timeout_is_a_retryable_provider_error(endpoint: Endpoint) -> None:
    endpoint.fake.push(Stall())
    client = build_client(
        endpoint.spec(), "m-1", breakers=BreakerRegistry(), timeout_s=0.3, attempts=1
    )

    with pytest.raises(ProviderError) as caught:
        await client.complete(ask("hi"), [], {}, Deltas())

    assert caught.value.retryable
    assert caught.value.status_code is None
    assert "timed out" in caught.value.message


async def test_no_retry_once_a_delta_was_streamed(
    endpoint: Endpoint, deltas: Deltas, sleeps: Sleeps
) -> None:
    endpoint.fake.push(Reply(text=["Hal", "f an"], break_after_text=True), Reply(text=["other"]))
    client = build_client(endpoint.spec(), "m-1", breakers=BreakerRegistry(), sleep=sleeps)

    with pytest.raises(ProviderError) as caught:
        await client.complete(ask("hi"), [], {}, deltas)

    assert caught.value.retryable  # it would have been retried before any delta
    assert deltas.text() == "Half an"
    assert len(endpoint.fake.requests) == 1
    assert sleeps.calls == []


async def test_falls_back_to_a_second_provider(
    fresh: dict[ProviderKind, Endpoint], deltas: Deltas, sleeps: Sleeps
) -> None:
    primary, secondary = fresh["openai"], fresh["anthropic"]
    primary.fake.push(*[Fail(503, "overloaded")] * 3)
    secondary.fake.push(Reply(text=["From ", "Claude."]))
    breakers = BreakerRegistry()
    client = FallbackClient(
        [
            build_client(primary.spec(), "gpt-x", breakers=breakers, sleep=sleeps),
            build_client(secondary.spec(), "claude-x", breakers=breakers, sleep=sleeps),
        ]
    )

    response = await client.complete(ask("hi"), [], {}, deltas)

    assert (response.provider_name, response.model_name) == ("anthropic", "claude-x")
    assert (client.provider, client.model) == ("openai", "gpt-x")
    assert deltas.text() == "From Claude."
    assert len(primary.fake.requests) == 3  # retried first, then fell back
    assert len(secondary.fake.requests) == 1


async def test_falls_back_past_an_open_circuit_without_calling_it(
    fresh: dict[ProviderKind, Endpoint], deltas: Deltas
) -> None:
    primary, secondary = fresh["google"], fresh["openai"]
    breakers = BreakerRegistry(failure_threshold=1)
    first = build_client(primary.spec(), "gem-x", breakers=breakers, attempts=1)
    primary.fake.push(Fail(500))
    with pytest.raises(ProviderError):
        await first.complete(ask("hi"), [], {}, deltas)
    secondary.fake.push(Reply(text=["ok"]))
    client = FallbackClient(
        [first, build_client(secondary.spec(), "gpt-x", breakers=breakers, attempts=1)]
    )

    response = await client.complete(ask("hi"), [], {}, deltas)

    assert response.provider_name == "openai"
    assert len(primary.fake.requests) == 1


async def test_does_not_fall_back_after_a_delta(
    fresh: dict[ProviderKind, Endpoint], deltas: Deltas, sleeps: Sleeps
) -> None:
    primary, secondary = fresh["anthropic"], fresh["openai"]
    primary.fake.push(Reply(text=["Par", "tial"], break_after_text=True))
    secondary.fake.push(Reply(text=["whole"]))
    breakers = BreakerRegistry()
    client = FallbackClient(
        [
            build_client(primary.spec(), "claude-x", breakers=breakers, sleep=sleeps),
            build_client(secondary.spec(), "gpt-x", breakers=breakers, sleep=sleeps),
        ]
    )

    with pytest.raises(ProviderError):
        await client.complete(ask("hi"), [], {}, deltas)

    assert deltas.text() == "Partial"
    assert secondary.fake.requests == []


async def test_environment_keys_never_reach_a_configured_endpoint(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(variable, "operator-secret")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "operator-secret")
    endpoint.fake.push(Reply(text=["ok"]))
    client = build_client(endpoint.spec(api_key=None), "m-1", breakers=BreakerRegistry())

    await client.complete(ask("hi"), [], {}, Deltas())

    [request] = endpoint.fake.requests
    assert "operator-secret" not in json.dumps(request.headers)


async def test_a_shared_http_client_carries_the_requests(endpoint: Endpoint) -> None:
    seen: list[str] = []

    async def record(request: httpx2.Request) -> None:
        seen.append(request.url.path)

    endpoint.fake.push(Reply(text=["ok"]))
    async with httpx2.AsyncClient(event_hooks={"request": [record]}, timeout=10) as http:
        client = build_client(endpoint.spec(), "m-1", breakers=BreakerRegistry(), http_client=http)
        await client.complete(ask("hi"), [], {}, Deltas())

    assert seen == [endpoint.fake.requests[0].path]
