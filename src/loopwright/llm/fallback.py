"""Try model clients in order until one answers.

The next client is tried on any ``ProviderError`` (an open circuit included) as long as nothing
has been streamed to the caller yet; after a delta, switching models would splice two answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.settings import ModelSettings

from loopwright.llm.client import ANSWERED_BY, DeltaSink, ModelClient, ModelDelta
from loopwright.llm.errors import ProviderError

log = logging.getLogger(__name__)


class FallbackClient:
    """Reports the first client's provider and model; the response says which one answered."""

    def __init__(self, clients: Sequence[ModelClient]) -> None:
        if not clients:
            raise ValueError("FallbackClient needs at least one client")
        self._clients = tuple(clients)

    @property
    def clients(self) -> tuple[ModelClient, ...]:
        return self._clients

    @property
    def provider(self) -> str:
        return self._clients[0].provider

    @property
    def model(self) -> str:
        return self._clients[0].model

    async def complete(
        self,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
        on_delta: DeltaSink,
    ) -> ModelResponse:
        streamed = False

        async def forward(delta: ModelDelta) -> None:
            nonlocal streamed
            streamed = True
            await on_delta(delta)

        failures: list[str] = []
        for index, client in enumerate(self._clients):
            try:
                response = await client.complete(messages, tools, settings, forward)
            except ProviderError as exc:
                if streamed or index == len(self._clients) - 1:
                    for failure in failures:
                        exc.add_note(f"earlier fallback failure: {failure}")
                    raise
                failures.append(f"{client.provider}:{client.model}: {exc.message}")
                log.warning(
                    "falling back from %s:%s after: %s", client.provider, client.model, exc.message
                )
                continue
            details = dict(response.provider_details or {})
            details.setdefault(ANSWERED_BY, client.provider)
            return replace(response, provider_details=details)
        raise AssertionError("unreachable: the last client's failure is re-raised")
