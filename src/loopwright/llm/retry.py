"""Retry retryable provider failures with exponential backoff and full jitter.

A request is retried only while nothing has reached the caller: once a delta has been forwarded,
a second attempt would stream a second, different answer after the first one's beginning.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Awaitable, Callable

from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.settings import ModelSettings

from loopwright.llm.client import DeltaSink, ModelClient, ModelDelta
from loopwright.llm.errors import ProviderError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class RetryingClient:
    def __init__(
        self,
        inner: ModelClient,
        *,
        attempts: int = 3,
        base_delay_s: float = 0.5,
        max_delay_s: float = 20.0,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._inner = inner
        self._attempts = attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._sleep = sleep
        self._random = random

    @property
    def provider(self) -> str:
        return self._inner.provider

    @property
    def model(self) -> str:
        return self._inner.model

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

        attempt = 1
        while True:
            try:
                return await self._inner.complete(messages, tools, settings, forward)
            except ProviderError as exc:
                if not exc.retryable or streamed or attempt >= self._attempts:
                    raise
                delay = self.delay_s(attempt, exc.retry_after_s)
                log.warning(
                    "retrying %s:%s in %.2fs after attempt %d failed: %s",
                    self.provider,
                    self.model,
                    delay,
                    attempt,
                    exc.message,
                )
                await self._sleep(delay)
                attempt += 1

    def delay_s(self, attempt: int, retry_after_s: float | None) -> float:
        """Full jitter over ``base * 2**(attempt-1)``, at least ``retry_after_s``; all capped."""
        ceiling = min(self._max_delay_s, self._base_delay_s * 2 ** (attempt - 1))
        delay: float = self._random() * ceiling
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return min(delay, self._max_delay_s)
