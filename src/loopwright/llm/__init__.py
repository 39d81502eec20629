"""Model providers behind one small interface, and the wrappers that make them dependable.

``build_client`` turns a provider's configuration into a ``ModelClient``; ``RetryingClient``,
``BreakerClient`` and ``FallbackClient`` wrap any client; ``OfflineClient`` needs no network.
"""

from loopwright.llm.breaker import BreakerClient, BreakerRegistry, BreakerState, CircuitBreaker
from loopwright.llm.catalog import (
    ProviderKind,
    ProviderSpec,
    build_client,
    endpoint_key,
    model_http_client,
    parse_model_name,
)
from loopwright.llm.client import ANSWERED_BY, DeltaSink, ModelClient, ModelDelta, answered_by
from loopwright.llm.errors import CircuitOpen, ProviderError
from loopwright.llm.fallback import FallbackClient
from loopwright.llm.offline import OfflineClient
from loopwright.llm.pydantic_client import PydanticAIClient
from loopwright.llm.retry import RetryingClient, Sleep

__all__ = [
    "ANSWERED_BY",
    "BreakerClient",
    "BreakerRegistry",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpen",
    "DeltaSink",
    "FallbackClient",
    "ModelClient",
    "ModelDelta",
    "OfflineClient",
    "ProviderError",
    "ProviderKind",
    "ProviderSpec",
    "PydanticAIClient",
    "RetryingClient",
    "Sleep",
    "answered_by",
    "build_client",
    "endpoint_key",
    "model_http_client",
    "parse_model_name",
]
