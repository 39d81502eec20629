"""Resolve an agent's ``provider:model`` names into a model client.

Server-wide providers come from the environment (``openai``, ``anthropic``, ``google``;
``offline`` always); a store's own providers come from its ``providers`` rows, their API keys
decrypted here and only here. The server-wide providers' clients share one HTTP client (one
connection pool, one TLS trust store); the store providers' clients share another, whose
connections go through the egress guard (``GuardedTransport``: only to addresses it checked)
and which keeps no cookies (stores share it). Clients are cached per provider configuration
and model, the ``CLIENTS_CACHED`` most recently used; a store provider's configuration is
cached for ``key_cache_s`` (a run looks it up on every model step). The database is read only
for a store provider whose configuration is not cached: an agent on a server-wide or the
offline provider resolves without a query.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Sequence

import httpx2

from loopwright.crypto import SecretBox
from loopwright.db.database import Database
from loopwright.db.repos import providers
from loopwright.egress import EgressGuard, GuardedTransport, no_cookies
from loopwright.errors import ValidationFailed
from loopwright.llm import (
    BreakerRegistry,
    FallbackClient,
    ModelClient,
    ProviderKind,
    ProviderSpec,
    build_client,
    model_http_client,
    parse_model_name,
)
from loopwright.runtime import heap
from loopwright.settings import Settings
from loopwright.telemetry import metrics

SERVER_KINDS = ("openai", "anthropic", "google")
CLIENTS_CACHED = 1024
STORE_PROVIDER_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
"""pydantic-ai's limits for the clients it builds (those of the OpenAI and Anthropic SDKs)."""


class ModelResolver:
    def __init__(self, settings: Settings, secrets: SecretBox, egress: EgressGuard) -> None:
        self._settings = settings
        self._secrets = secrets
        self._egress = egress
        self._breakers = BreakerRegistry(observe=metrics.breaker)
        self._http = model_http_client(settings.model_timeout_s)
        guarded = GuardedTransport(egress, limits=STORE_PROVIDER_LIMITS)
        self._store_http = model_http_client(settings.model_timeout_s, transport=guarded)
        self._store_http.cookies = no_cookies()
        self._clients: OrderedDict[tuple[str, ...], ModelClient] = OrderedDict()
        self._kinds_built: set[str] = set()
        # (store, provider) -> (good until, spec): a run asks on every model step
        self._specs: dict[tuple[str, str], tuple[float, ProviderSpec]] = {}

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._store_http.aclose()

    def report_breakers(self) -> None:
        """Give the metrics this process's breaker states as they are now (an open breaker
        turns half-open by the clock, with no call to tell it)."""
        for endpoint, state in self._breakers.states().items():
            metrics.breaker(endpoint, state)

    def forget(self, store_id: str) -> None:
        """Drop what is cached of a store's providers (one was removed). Other processes
        notice within ``key_cache_s``, as they do for API keys."""
        for key in [k for k in self._specs if k[0] == store_id]:
            del self._specs[key]

    async def client(self, db: Database, store_id: str, models: Sequence[str]) -> ModelClient:
        clients = [await self._one(db, store_id, name) for name in models]
        return clients[0] if len(clients) == 1 else FallbackClient(clients)

    async def _one(self, db: Database, store_id: str, name: str) -> ModelClient:
        try:
            provider, model = parse_model_name(name)
        except ValueError as exc:
            raise ValidationFailed(f"bad model name {name!r}") from exc
        spec = await self._spec(db, store_id, provider)
        fingerprint = hashlib.sha256((spec.api_key or "").encode()).hexdigest()
        key = (
            store_id if spec.kind != "offline" else "",
            provider,
            spec.kind,
            spec.base_url or "",
            fingerprint,
            model,
        )
        cached = self._clients.get(key)
        if cached is not None:
            self._clients.move_to_end(key)
        else:
            cached = build_client(
                spec,
                model,
                breakers=self._breakers,
                timeout_s=self._settings.model_timeout_s,
                http_client=self._http if self._server_wide(provider) else self._store_http,
            )
            self._clients[key] = cached
            if len(self._clients) > CLIENTS_CACHED:
                self._clients.popitem(last=False)
            if spec.kind not in self._kinds_built:  # its SDK was imported just now
                self._kinds_built.add(spec.kind)
                heap.settle()
        return cached

    async def spec(self, db: Database, store_id: str, provider: str) -> ProviderSpec:
        """A provider's endpoint and key, as a run's model would use them (egress-checked)."""
        return await self._spec(db, store_id, provider)

    async def _spec(self, db: Database, store_id: str, provider: str) -> ProviderSpec:
        if provider == "offline":
            return ProviderSpec(name="offline", kind="offline", base_url=None, api_key=None)
        if self._server_wide(provider):
            return ProviderSpec(
                name=provider,
                kind=_kind(provider),
                base_url=self._settings.provider_base_url(provider),
                api_key=self._settings.provider_api_key(provider),
            )
        cached = self._specs.get((store_id, provider))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with db.read(store_id) as session:
            row = await providers.find(session, store_id, provider)
        if row is None:
            raise ValidationFailed(f"provider {provider!r} is not configured")
        if row.base_url:
            await self._egress.check_url(row.base_url)
        spec = ProviderSpec(
            name=row.name,
            kind=_kind(row.kind),
            base_url=row.base_url,
            api_key=self._secrets.decrypt(row.api_key_enc) if row.api_key_enc else None,
        )
        if self._settings.key_cache_s > 0:
            good_until = time.monotonic() + self._settings.key_cache_s
            self._specs[(store_id, provider)] = (good_until, spec)
        return spec

    def _server_wide(self, provider: str) -> bool:
        """Configured by the operator's environment (not a store's row): not guarded."""
        return provider in SERVER_KINDS and provider in self._settings.environment_providers()


def _kind(value: str) -> ProviderKind:
    return "anthropic" if value == "anthropic" else "google" if value == "google" else "openai"
