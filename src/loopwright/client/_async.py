"""The asynchronous client (``AsyncClient``). ``_sync.py`` is generated from this file by
``scripts/unasync_client.py``: edit the ``_async*.py`` files, then run that script."""

from __future__ import annotations

import httpx

from loopwright.client._async_base import AsyncConnection
from loopwright.client._async_conversations import AsyncAgents, AsyncPlans, AsyncRuns, AsyncSessions
from loopwright.client._async_events import AsyncEvents
from loopwright.client._async_guardrails import AsyncApprovals, AsyncLimits, AsyncSettings
from loopwright.client._async_memory import AsyncMemories, AsyncMemorySuggestions
from loopwright.client._async_resources import (
    AsyncDocuments,
    AsyncKeys,
    AsyncMcpServers,
    AsyncOps,
    AsyncProjects,
    AsyncProviders,
    AsyncStores,
    AsyncTasks,
    AsyncToolCalls,
    AsyncTools,
    AsyncUsage,
)
from loopwright.client._async_triggers import (
    AsyncDeliveries,
    AsyncMail,
    AsyncSchedules,
    AsyncWebhooks,
)


class AsyncClient(AsyncConnection):
    """The v1 API over HTTP, one attribute per resource (``agents``, ``sessions``, …).

    ``url`` and ``key`` default to ``LOOPWRIGHT_URL`` and ``LOOPWRIGHT_KEY``; ``store`` to the
    key's own store (asked of ``/v1/me`` once; an operator key must name one).
    """

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        store: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(url, key, store=store, timeout_s=timeout_s, transport=transport)
        self.stores = AsyncStores(self)
        self.keys = AsyncKeys(self)
        self.providers = AsyncProviders(self)
        self.agents = AsyncAgents(self)
        self.events = AsyncEvents(self)
        self.sessions = AsyncSessions(self, self.events)
        self.runs = AsyncRuns(self)
        self.plans = AsyncPlans(self)
        self.projects = AsyncProjects(self)
        self.tasks = AsyncTasks(self)
        self.documents = AsyncDocuments(self)
        self.tools = AsyncTools(self)
        self.mcp_servers = AsyncMcpServers(self)
        self.tool_calls = AsyncToolCalls(self)
        self.usage = AsyncUsage(self)
        self.memories = AsyncMemories(self)
        self.memory_suggestions = AsyncMemorySuggestions(self)
        self.settings = AsyncSettings(self)
        self.limits = AsyncLimits(self)
        self.approvals = AsyncApprovals(self)
        self.schedules = AsyncSchedules(self)
        self.webhooks = AsyncWebhooks(self)
        self.deliveries = AsyncDeliveries(self)
        self.mail = AsyncMail(self)
        self.ops = AsyncOps(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
