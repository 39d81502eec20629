"""A ``ModelClient`` over any pydantic-ai ``Model``: streams, forwards deltas, maps errors.

pydantic-ai's model adapters speak each provider's wire format; this module only drives their
streaming API and turns their exceptions into ``ProviderError``.
"""

from __future__ import annotations

from typing import Any

import httpx
import httpx2
from pydantic_ai import ToolDefinition
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelQuotaExceededError,
    ModelRequestRejectedError,
    ModelTimeoutError,
    UnexpectedModelBehavior,
)
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    ModelResponseStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.settings import ModelSettings

from loopwright.llm.client import DeltaSink, ModelDelta
from loopwright.llm.errors import ProviderError

TRANSPORT_ERRORS = (httpx2.TransportError, httpx.TransportError)


class PydanticAIClient:
    def __init__(self, model: Model, provider: str) -> None:
        self._model = model
        self._provider = provider

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model(self) -> str:
        return self._model.model_name

    async def complete(
        self,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
        on_delta: DeltaSink,
    ) -> ModelResponse:
        params = ModelRequestParameters(function_tools=list(tools), allow_text_output=True)
        try:
            async with self._model.request_stream(messages, settings, params) as stream:
                async for event in stream:
                    delta = delta_of(event)
                    if delta is not None:
                        await on_delta(delta)
                return stream.get()
        except (ModelAPIError, UnexpectedModelBehavior, TimeoutError, *TRANSPORT_ERRORS) as exc:
            raise provider_error(self._provider, self.model, exc) from exc


def delta_of(event: ModelResponseStreamEvent) -> ModelDelta | None:
    """The text or reasoning an event adds; a part's first chunk arrives with its start event."""
    if isinstance(event, PartStartEvent):
        part = event.part
        if isinstance(part, TextPart) and part.content:
            return ModelDelta("text", part.content)
        if isinstance(part, ThinkingPart) and part.content:
            return ModelDelta("reasoning", part.content)
    elif isinstance(event, PartDeltaEvent):
        delta = event.delta
        if isinstance(delta, TextPartDelta) and delta.content_delta:
            return ModelDelta("text", delta.content_delta)
        if isinstance(delta, ThinkingPartDelta) and delta.content_delta:
            return ModelDelta("reasoning", delta.content_delta)
    return None


def provider_error(provider: str, model: str, exc: BaseException) -> ProviderError:
    """Classify a failed model request; the message never includes request content or keys."""
    where = f"{provider}:{model}"
    if isinstance(exc, ModelHTTPError):
        status = exc.status_code
        retryable = _retryable_status(status) and not isinstance(
            exc, ModelQuotaExceededError | ModelRequestRejectedError
        )
        return ProviderError(
            f"{where} failed with HTTP {status}: {_body_message(exc.body) or exc.message}",
            provider=provider,
            status_code=status,
            retryable=retryable,
            retry_after_s=exc.retry_after,
            details=_details(exc),
        )
    if isinstance(exc, ModelConnectionError):
        what = "timed out" if isinstance(exc, ModelTimeoutError) else "connection failed"
        return ProviderError(
            f"{where} {what}: {exc.message}",
            provider=provider,
            retryable=True,
            retry_after_s=exc.retry_after,
            details=_details(exc),
        )
    if isinstance(exc, ModelAPIError):
        retryable = not isinstance(exc, ModelQuotaExceededError | ModelRequestRejectedError)
        return ProviderError(
            f"{where} failed: {exc.message}",
            provider=provider,
            retryable=retryable,
            retry_after_s=exc.retry_after,
            details=_details(exc),
        )
    if isinstance(exc, TimeoutError | httpx2.TimeoutException | httpx.TimeoutException):
        return ProviderError(f"{where} timed out", provider=provider, retryable=True)
    if isinstance(exc, TRANSPORT_ERRORS):
        return ProviderError(
            f"{where} connection failed: {type(exc).__name__}", provider=provider, retryable=True
        )
    if isinstance(exc, UnexpectedModelBehavior):
        return ProviderError(f"{where} sent an unusable response: {exc.message}", provider=provider)
    return ProviderError(f"{where} failed: {type(exc).__name__}", provider=provider)


def _retryable_status(status: int) -> bool:
    return status in (408, 409, 425, 429) or status >= 500


def _body_message(body: object) -> str | None:
    """The human-readable message in an OpenAI, Anthropic or Google error body."""
    if not isinstance(body, dict):
        return None
    inner = body.get("error", body)
    message = inner.get("message") if isinstance(inner, dict) else None
    return message if isinstance(message, str) and message else None


def _details(exc: ModelAPIError) -> dict[str, Any]:
    return {
        "error": type(exc).__name__,
        "provider_error_code": exc.provider_error_code,
        "provider_error_type": exc.provider_error_type,
        "in_stream": exc.in_stream,
    }
