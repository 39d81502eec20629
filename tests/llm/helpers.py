"""Recorders and a scripted in-memory ``ModelClient`` for the wrapper tests."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.settings import ModelSettings

from loopwright.llm import DeltaSink, ModelDelta, ProviderError, ProviderKind, ProviderSpec
from tests.llm.fakes import FakeLLM

REMOTE_KINDS: tuple[ProviderKind, ...] = ("openai", "anthropic", "google")
API_KEY = "sk-test-4f9c2e"


@dataclass
class Endpoint:
    """A running fake provider and how a client should be pointed at it."""

    kind: ProviderKind
    fake: FakeLLM
    base_url: str

    def spec(self, *, name: str | None = None, api_key: str | None = API_KEY) -> ProviderSpec:
        return ProviderSpec(
            name=name or self.kind, kind=self.kind, base_url=self.base_url, api_key=api_key
        )


@dataclass
class Sleeps:
    """An injected ``sleep`` that records the requested delays and returns at once."""

    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class Deltas:
    """An ``on_delta`` sink that keeps what it was given."""

    received: list[ModelDelta] = field(default_factory=list)

    async def __call__(self, delta: ModelDelta) -> None:
        self.received.append(delta)

    def text(self, kind: str = "text") -> str:
        return "".join(d.text for d in self.received if d.kind == kind)


class Clock:
    """A manual monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ask(text: str) -> list[ModelMessage]:
    return [ModelRequest(parts=[UserPromptPart(text)])]


def failure(status: int | None = 500, *, retryable: bool = True, **kw: float) -> ProviderError:
    return ProviderError(
        f"scripted failure {status}",
        provider="scripted",
        status_code=status,
        retryable=retryable,
        retry_after_s=kw.get("retry_after_s"),
    )


@dataclass(frozen=True)
class Answer:
    """Stream ``deltas`` as text, then either answer with their concatenation or raise ``error``."""

    deltas: tuple[str, ...] = ("ok",)
    error: ProviderError | None = None
    gate: asyncio.Event | None = None
    """If set, wait for it before answering (to hold a call in flight)."""
    entered: asyncio.Event | None = None
    """If set, set when the call starts."""


Outcome = Answer | ProviderError


class Scripted:
    """A ``ModelClient`` that plays scripted outcomes in order and counts its calls."""

    def __init__(self, outcomes: Iterable[Outcome], *, provider: str = "scripted") -> None:
        self.outcomes: deque[Outcome] = deque(outcomes)
        self.calls = 0
        self._provider = provider

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model(self) -> str:
        return f"{self._provider}-model"

    async def complete(
        self,
        messages: list[ModelMessage],
        tools: list[ToolDefinition],
        settings: ModelSettings,
        on_delta: DeltaSink,
    ) -> ModelResponse:
        self.calls += 1
        outcome = self.outcomes.popleft()
        if isinstance(outcome, ProviderError):
            raise outcome
        if outcome.entered is not None:
            outcome.entered.set()
        if outcome.gate is not None:
            await outcome.gate.wait()
        for text in outcome.deltas:
            await on_delta(ModelDelta("text", text))
        if outcome.error is not None:
            raise outcome.error
        return ModelResponse(
            parts=[TextPart("".join(outcome.deltas))],
            model_name=self.model,
            provider_name=self.provider,
        )
