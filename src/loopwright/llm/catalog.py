"""From a provider's configuration and a model name to a ready ``ModelClient``.

    OpenAIChatClient or PydanticAIClient (one attempt; SDK retries off)
        ◀── RetryingClient ◀── BreakerClient

Keys are always passed explicitly (a placeholder when a provider has none), so the SDKs never
fall back to credentials in the server's environment: a store's provider pointing at its own
URL must not receive the operator's key.
"""

from __future__ import annotations

import asyncio
import hashlib
import urllib.request
from dataclasses import dataclass, field
from typing import Literal

import httpx2
from pydantic_ai._http import DEFAULT_HTTP_LIMITS
from pydantic_ai.models import Model, create_async_httpx2_client, get_user_agent

from loopwright.egress.http11 import Http11Transport
from loopwright.egress.transport import tls_context
from loopwright.llm.breaker import BreakerClient, BreakerRegistry
from loopwright.llm.client import ModelClient
from loopwright.llm.offline import OfflineClient
from loopwright.llm.pydantic_client import PydanticAIClient
from loopwright.llm.retry import RetryingClient, Sleep

ProviderKind = Literal["openai", "anthropic", "google", "offline"]

_NO_KEY = "no-key-configured"
_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    kind: ProviderKind
    base_url: str | None
    api_key: str | None = field(repr=False)


def parse_model_name(model: str) -> tuple[str, str]:
    """Split ``"provider:model"``; the model part may contain colons (``"ollama:llama3:8b"``)."""
    provider, sep, name = model.partition(":")
    if not sep or not provider or not name or provider != provider.strip() or name != name.strip():
        raise ValueError(f"model must look like 'provider:model-name', got {model!r}")
    if any(ch.isspace() for ch in provider):
        raise ValueError(f"provider name must not contain whitespace, got {provider!r}")
    return provider, name


def endpoint_key(spec: ProviderSpec) -> str:
    """The circuit-breaker key: the endpoint, and a fingerprint of the credentials used on it.

    Rate limits are per key, so one store's exhausted key must not open the circuit for every other
    store that calls the same URL with its own key.
    """
    key = f"{spec.kind}:{spec.base_url or 'default'}"
    if spec.api_key:
        key += "#" + hashlib.sha256(spec.api_key.encode()).hexdigest()[:12]
    return key


def build_client(
    spec: ProviderSpec,
    model: str,
    *,
    breakers: BreakerRegistry,
    timeout_s: float = 120.0,
    attempts: int = 3,
    sleep: Sleep = asyncio.sleep,
    http_client: httpx2.AsyncClient | None = None,
) -> ModelClient:
    """A client for ``model`` (the name without the provider prefix) at ``spec``'s endpoint.

    ``http_client`` shares one connection pool between clients (see ``model_http_client``); by
    default each gets its own.
    """
    if spec.kind == "offline":
        return OfflineClient()
    builder = _MODEL_BUILDERS.get(spec.kind)
    if builder is None and spec.kind != "openai":
        raise ValueError(f"unknown provider kind {spec.kind!r}")
    if http_client is None:
        http_client = model_http_client(timeout_s)
    one_attempt: ModelClient
    if builder is None:
        one_attempt = _openai(spec, model, timeout_s, http_client)
    else:
        one_attempt = PydanticAIClient(builder(spec, model, timeout_s, http_client), spec.name)
    client = RetryingClient(one_attempt, attempts=attempts, sleep=sleep)
    return BreakerClient(client, breakers.get(endpoint_key(spec)))


def model_http_client(
    timeout_s: float, transport: httpx2.AsyncBaseTransport | None = None
) -> httpx2.AsyncClient:
    """An HTTP client for model requests: pydantic-ai's defaults (pool limits, user agent), the
    server's model timeout, connections on ``Http11Transport`` (unless the environment names a
    proxy). Building one loads the TLS trust store (about 20 ms here), so a server shares one
    between all its model clients. A ``transport`` brings its own pool."""
    if transport is None and not _proxies_from_environment():
        transport = Http11Transport(limits=DEFAULT_HTTP_LIMITS, verify=tls_context())
    return create_async_httpx2_client(
        timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, _CONNECT_TIMEOUT_S)),
        transport=transport,
    )


def _proxies_from_environment() -> bool:
    """Whether ``HTTP(S)_PROXY``/``ALL_PROXY`` name a proxy: httpx2's own transports take it
    (``Http11Transport`` connects only directly)."""
    return any(key in ("http", "https", "all") for key in urllib.request.getproxies())


def _openai(
    spec: ProviderSpec, model: str, timeout_s: float, http: httpx2.AsyncClient
) -> ModelClient:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    from loopwright.llm._openai_sdk import CapturingAsyncOpenAI
    from loopwright.llm.openai_chat import OpenAIChatClient

    sdk = CapturingAsyncOpenAI(
        api_key=spec.api_key or _NO_KEY,
        base_url=spec.base_url,
        max_retries=0,
        timeout=timeout_s,
        http_client=http,
    )
    chat_model = OpenAIChatModel(model, provider=OpenAIProvider(openai_client=sdk))
    return OpenAIChatClient(chat_model, sdk, http, spec.name)


def _anthropic(spec: ProviderSpec, model: str, timeout_s: float, http: httpx2.AsyncClient) -> Model:
    from anthropic import AsyncAnthropic
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    sdk = AsyncAnthropic(
        api_key=spec.api_key or _NO_KEY,
        base_url=spec.base_url,
        max_retries=0,
        timeout=timeout_s,
        http_client=http,
    )
    return AnthropicModel(model, provider=AnthropicProvider(anthropic_client=sdk))


def _google(spec: ProviderSpec, model: str, timeout_s: float, http: httpx2.AsyncClient) -> Model:
    from google.genai import Client
    from google.genai.types import HttpOptions
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    options = HttpOptions(
        base_url=spec.base_url,
        headers={"user-agent": get_user_agent()},
        httpx_async_client=http,
        timeout=int(timeout_s * 1000),
        retry_options=None,  # one attempt; RetryingClient retries
    )
    sdk = Client(vertexai=False, api_key=spec.api_key or _NO_KEY, http_options=options)
    return GoogleModel(model, provider=GoogleProvider(client=sdk))


_MODEL_BUILDERS = {"anthropic": _anthropic, "google": _google}
