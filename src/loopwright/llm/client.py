"""The seam between the engine and model providers: one call, streamed deltas, one response.

Messages, tool definitions, settings and responses are pydantic-ai's normalized types; each
implementation translates them to a wire format (or, for the offline model, to none).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.settings import ModelSettings


@dataclass(frozen=True, slots=True)
class ModelDelta:
    """A piece of streamed output, forwarded as soon as the provider sends it."""

    kind: Literal["text", "reasoning"]
    text: str


DeltaSink = Callable[[ModelDelta], Awaitable[None]]


class ModelClient(Protocol):
    @property
    def provider(self) -> str:
        """The provider's name: a kind ("openai", "offline", ...) or a store's own provider name."""
        ...

    @property
    def model(self) -> str:
        """The model's name, without the provider prefix."""
        ...

    async def complete(
        self,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
        on_delta: DeltaSink,
    ) -> ModelResponse:
        """Send one request; forward text and reasoning deltas in order; return the whole response.

        Raises ``ProviderError`` when the provider fails or refuses.
        """
        ...


ANSWERED_BY = "loopwright_provider"
"""Key in ``ModelResponse.provider_details`` naming the configured provider that answered
(pydantic-ai's own ``provider_name`` is the wire protocol's, e.g. "openai" for any
OpenAI-compatible endpoint)."""


def answered_by(response: ModelResponse, default: str) -> str:
    details = response.provider_details or {}
    value = details.get(ANSWERED_BY)
    return value if isinstance(value, str) else default
