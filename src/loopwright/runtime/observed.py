"""A run's model requests and tool calls, measured (``telemetry.metrics``) and traced
(``telemetry.tracing``): once per request or call, never per delta."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from opentelemetry.trace import Span
from pydantic_ai.messages import ModelMessage, ModelResponse

from loopwright.engine.ports import ToolInfo, ToolRoute, Toolset
from loopwright.engine.types import CallContext, Cancelled, ToolCall, ToolOutcome
from loopwright.llm import CircuitOpen, ProviderError, answered_by, parse_model_name
from loopwright.telemetry import metrics, tracing


def split_model(name: str) -> tuple[str, str]:
    try:
        return parse_model_name(name)
    except ValueError:
        return "", name


def error_reason(exc: BaseException) -> str:
    if isinstance(exc, CircuitOpen):
        return "circuit_open"
    if isinstance(exc, ProviderError):
        return "retryable" if exc.retryable else "refused"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, Cancelled | asyncio.CancelledError):
        return "cancelled"  # the run was cancelled, or the loop's time bound ran out
    return "internal"


def request_content(messages: list[ModelMessage]) -> object:
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    return ModelMessagesTypeAdapter.dump_python(messages, mode="json")


def answered(
    store_id: str, requested: str, response: ModelResponse, seconds: float, span: Span | None
) -> None:
    provider = answered_by(response, split_model(requested)[0])
    model = response.model_name or split_model(requested)[1]
    usage = response.usage
    metrics.model_request(
        store_id,
        provider,
        model,
        seconds,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
    )
    tracing.model_answered(
        span,
        system=response.provider_name,
        model=response.model_name,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        finish_reason=response.finish_reason,
        response_id=response.provider_response_id,
    )


def request_failed(requested: str, exc: BaseException, seconds: float, span: Span | None) -> None:
    provider, model = split_model(requested)
    if isinstance(exc, ProviderError) and exc.provider:
        provider = exc.provider
    metrics.model_request("", provider, model, seconds, error=error_reason(exc))
    tracing.failed(span, exc)


class ObservedTools:
    """The run's toolset, each call counted, timed and traced (refusals by the wrappers
    inside it too)."""

    def __init__(self, inner: Toolset, store_id: str) -> None:
        self.inner = inner
        self.store_id = store_id

    async def available(self) -> Mapping[str, ToolInfo]:
        return await self.inner.available()

    def route(self, call: ToolCall) -> ToolRoute:
        return self.inner.route(call)

    async def call(self, call: ToolCall, ctx: CallContext) -> ToolOutcome:
        name = self.inner.route(call).name
        kind = "function" if ctx.transaction is None else "builtin"
        began = time.perf_counter()
        with tracing.tool_span(name, call.call_id, kind) as span:
            tracing.content(span, "gen_ai.tool.call.arguments", call.arguments)
            try:
                outcome = await self.inner.call(call, ctx)
            except BaseException as exc:
                metrics.tool_call(
                    self.store_id, name, error_reason(exc), time.perf_counter() - began
                )
                tracing.failed(span, exc)
                raise
            status = "waiting" if outcome.waiting_on else outcome.status
            if span is not None and outcome.waiting_on:  # started child runs; runs again later
                span.set_attribute("loopwright.tool.waiting_on", list(outcome.waiting_on))
            metrics.tool_call(self.store_id, name, status, time.perf_counter() - began)
            if status in ("error", "refused"):
                tracing.failed(span, status)
            tracing.content(span, "gen_ai.tool.call.result", outcome.content)
            return outcome
