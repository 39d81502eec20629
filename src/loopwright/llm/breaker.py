"""Circuit breakers: stop calling an endpoint that keeps failing, then probe it with one request.

    closed ──(failure_threshold consecutive failures)──▶ open
    open ──(reset_after_s elapsed)──▶ half_open: one trial call; the others get CircuitOpen
    half_open ──(trial succeeds)──▶ closed      half_open ──(trial fails)──▶ open

Only failures that say the endpoint is unhealthy count: retryable ``ProviderError``s (429, 5xx,
timeouts, dropped connections). A refused request (401, 400, ...) proves the endpoint is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from pydantic_ai import ToolDefinition
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.settings import ModelSettings

from loopwright.llm.client import DeltaSink, ModelClient
from loopwright.llm.errors import CircuitOpen, ProviderError

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._threshold = failure_threshold
        self._reset_after_s = reset_after_s
        self._clock = clock
        self._open = False
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self.on_change: Callable[[BreakerState], None] | None = None
        self._told: BreakerState | None = None

    def _tell(self) -> None:
        """Tell ``on_change`` the state when it differs from what it was told last."""
        if self.on_change is not None:
            state = self.state
            if state != self._told:
                self._told = state
                self.on_change(state)

    @property
    def state(self) -> BreakerState:
        if not self._open:
            return "closed"
        if self._trial_in_flight or self.retry_after_s() == 0.0:
            return "half_open"
        return "open"

    def retry_after_s(self) -> float:
        """Seconds until an open breaker admits a trial call (0 when it would now)."""
        if not self._open:
            return 0.0
        return max(0.0, self._opened_at + self._reset_after_s - self._clock())

    def try_acquire(self) -> bool:
        """Whether a call may go ahead; in half-open state the caller becomes the one trial."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_in_flight:
            self._trial_in_flight = True
            self._tell()
            return True
        self._tell()
        return False

    def record_success(self) -> None:
        self._open = False
        self._failures = 0
        self._trial_in_flight = False
        self._tell()

    def record_failure(self) -> None:
        self._trial_in_flight = False
        if self._open:  # a failed trial: open for another full period
            self._opened_at = self._clock()
        else:
            self._failures += 1
            if self._failures >= self._threshold:
                self._open = True
                self._opened_at = self._clock()
        self._tell()

    def release(self) -> None:
        """Forget a call that ended without a verdict (cancelled, or a bug); free the trial slot."""
        self._trial_in_flight = False
        self._tell()


class BreakerRegistry:
    """One shared breaker per endpoint key, created on first use with the registry's settings."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        observe: Callable[[str, BreakerState], None] | None = None,
    ) -> None:
        """``observe(endpoint, state)``: told the state after each call through a breaker
        (metrics)."""
        self._failure_threshold = failure_threshold
        self._reset_after_s = reset_after_s
        self._clock = clock
        self._observe = observe
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, endpoint: str) -> CircuitBreaker:
        breaker = self._breakers.get(endpoint)
        if breaker is None:
            breaker = CircuitBreaker(self._failure_threshold, self._reset_after_s, self._clock)
            if self._observe is not None:
                observe = self._observe
                breaker.on_change = lambda state: observe(endpoint, state)
            self._breakers[endpoint] = breaker
        return breaker

    def states(self) -> dict[str, BreakerState]:
        return {endpoint: breaker.state for endpoint, breaker in self._breakers.items()}


class BreakerClient:
    def __init__(self, inner: ModelClient, breaker: CircuitBreaker) -> None:
        self._inner = inner
        self._breaker = breaker

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
        breaker = self._breaker
        if not breaker.try_acquire():
            wait = breaker.retry_after_s()
            raise CircuitOpen(
                f"{self.provider}:{self.model} is unavailable after repeated failures; "
                f"not calling it for another {wait:.1f}s",
                provider=self.provider,
                retry_after_s=wait,
            )
        try:
            response = await self._inner.complete(messages, tools, settings, on_delta)
        except CircuitOpen:  # a breaker further in said no: nothing was learned about this endpoint
            breaker.release()
            raise
        except ProviderError as exc:
            if exc.retryable:
                breaker.record_failure()
            else:
                breaker.record_success()
            raise
        except BaseException:
            breaker.release()
            raise
        breaker.record_success()
        return response
