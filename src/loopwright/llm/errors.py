"""Provider failures, as one branch of Loopwright's exception tree.

    LoopwrightError
    └── ProviderError        provider_error  502   a model provider failed or refused a request
        └── CircuitOpen      circuit_open    503   the endpoint's breaker is open; not called

``retryable`` says whether the same request may succeed if sent again (rate limits, 5xx, timeouts,
dropped connections); ``retry_after_s`` is how long the provider asked us to wait, when it said.
"""

from __future__ import annotations

from typing import Any

from loopwright.errors import LoopwrightError


class ProviderError(LoopwrightError):
    code = "provider_error"
    status = 502

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message, details=details)
        self.provider = provider
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class CircuitOpen(ProviderError):
    """Raised without calling the provider while its endpoint's breaker is open.

    ``retry_after_s`` is the time left until the breaker lets a trial request through.
    """

    code = "circuit_open"
    status = 503

    def __init__(self, message: str, *, provider: str, retry_after_s: float | None = None) -> None:
        super().__init__(message, provider=provider, retryable=False, retry_after_s=retry_after_s)
