"""Model names, provider specs, endpoint keys and what build_client assembles."""

from __future__ import annotations

from typing import cast

import pytest

from loopwright.egress.http11 import Http11Transport
from loopwright.llm import (
    BreakerRegistry,
    OfflineClient,
    ProviderKind,
    ProviderSpec,
    build_client,
    endpoint_key,
    model_http_client,
    parse_model_name,
)
from tests.llm.helpers import Deltas, ask


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openai:gpt-4o", ("openai", "gpt-4o")),
        ("local-vllm:meta/llama-3", ("local-vllm", "meta/llama-3")),
        ("ollama:llama3:8b", ("ollama", "llama3:8b")),
        ("offline:default", ("offline", "default")),
    ],
)
def test_parses_provider_prefixed_model_names(name: str, expected: tuple[str, str]) -> None:
    assert parse_model_name(name) == expected


@pytest.mark.parametrize("name", ["gpt-4o", ":gpt-4o", "openai:", "", " openai:gpt", "my co:x"])
def test_rejects_malformed_model_names(name: str) -> None:
    with pytest.raises(ValueError, match="provider"):
        parse_model_name(name)


def test_the_api_key_stays_out_of_reprs_and_endpoint_keys() -> None:
    spec = ProviderSpec(name="acme", kind="openai", base_url="http://h/v1", api_key="sk-secret-1")

    assert "sk-secret-1" not in repr(spec)
    assert "sk-secret-1" not in endpoint_key(spec)


def test_endpoint_keys_separate_urls_and_credentials() -> None:
    def key(url: str | None, api_key: str | None, kind: ProviderKind = "openai") -> str:
        return endpoint_key(ProviderSpec(name="n", kind=kind, base_url=url, api_key=api_key))

    assert key("http://h/v1", "k1") == key("http://h/v1", "k1")
    assert key("http://h/v1", "k1").startswith("openai:http://h/v1#")
    assert key("http://h/v1", "k1") != key("http://h/v1", "k2")
    assert key("http://h/v1", "k1") != key("http://other/v1", "k1")
    assert key("http://h/v1", "k1", "anthropic") != key("http://h/v1", "k1")
    assert key(None, None) == "openai:default"


async def test_offline_needs_no_endpoint() -> None:
    spec = ProviderSpec(name="offline", kind="offline", base_url=None, api_key=None)
    registry = BreakerRegistry()

    client = build_client(spec, "default", breakers=registry)

    assert isinstance(client, OfflineClient)
    assert (client.provider, client.model) == ("offline", "default")
    response = await client.complete(ask("hello"), [], {}, Deltas())
    assert response.provider_name == "offline"
    assert registry.states() == {}


def test_clients_for_one_endpoint_share_a_breaker() -> None:
    registry = BreakerRegistry()
    spec = ProviderSpec(name="acme", kind="anthropic", base_url="http://127.0.0.1:9", api_key="k")

    first = build_client(spec, "claude-a", breakers=registry)
    second = build_client(spec, "claude-b", breakers=registry)
    other = ProviderSpec(name="acme", kind="google", base_url="http://127.0.0.1:9", api_key="k")
    build_client(other, "gemini", breakers=registry)

    assert (first.provider, first.model, second.model) == ("acme", "claude-a", "claude-b")
    assert sorted(registry.states()) == sorted([endpoint_key(spec), endpoint_key(other)])


def test_an_unknown_kind_is_rejected() -> None:
    spec = ProviderSpec(name="x", kind=cast(ProviderKind, "mistral"), base_url=None, api_key="k")

    with pytest.raises(ValueError, match="unknown provider kind 'mistral'"):
        build_client(spec, "m", breakers=BreakerRegistry())


def test_the_package_exports_what_it_lists() -> None:
    import loopwright.llm as llm

    assert all(hasattr(llm, name) for name in llm.__all__)
    assert {"ModelClient", "ModelDelta", "ProviderError", "CircuitOpen", "build_client"} <= set(
        llm.__all__
    )


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY"])
async def test_the_model_client_keeps_httpx2s_transport_when_a_proxy_is_named(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Http11Transport`` connects only directly: with a proxy in the environment the
    server-wide client keeps httpx2's transports, which route through it."""
    for name in (
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    direct = model_http_client(30)
    assert isinstance(direct._transport, Http11Transport) and not direct._mounts
    monkeypatch.setenv(variable, "http://127.0.0.1:3128")
    proxied = model_http_client(30)
    assert not isinstance(proxied._transport, Http11Transport)
    assert any(transport is not None for transport in proxied._mounts.values())
    await direct.aclose()
    await proxied.aclose()
