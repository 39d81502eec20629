"""GENERATED from ``_async.py`` by ``scripts/unasync_client.py``: do not edit; edit
``_async.py`` and run the script. (The synchronous twin of the async client.)"""

from __future__ import annotations

import httpx

from loopwright.client._sync_base import Connection
from loopwright.client._sync_conversations import Agents, Plans, Runs, Sessions
from loopwright.client._sync_events import Events
from loopwright.client._sync_guardrails import Approvals, Limits, Settings
from loopwright.client._sync_memory import Memories, MemorySuggestions
from loopwright.client._sync_resources import (
    Documents,
    Keys,
    McpServers,
    Ops,
    Projects,
    Providers,
    Stores,
    Tasks,
    ToolCalls,
    Tools,
    Usage,
)
from loopwright.client._sync_triggers import (
    Deliveries,
    Mail,
    Schedules,
    Webhooks,
)


class Client(Connection):
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(url, key, store=store, timeout_s=timeout_s, transport=transport)
        self.stores = Stores(self)
        self.keys = Keys(self)
        self.providers = Providers(self)
        self.agents = Agents(self)
        self.events = Events(self)
        self.sessions = Sessions(self, self.events)
        self.runs = Runs(self)
        self.plans = Plans(self)
        self.projects = Projects(self)
        self.tasks = Tasks(self)
        self.documents = Documents(self)
        self.tools = Tools(self)
        self.mcp_servers = McpServers(self)
        self.tool_calls = ToolCalls(self)
        self.usage = Usage(self)
        self.memories = Memories(self)
        self.memory_suggestions = MemorySuggestions(self)
        self.settings = Settings(self)
        self.limits = Limits(self)
        self.approvals = Approvals(self)
        self.schedules = Schedules(self)
        self.webhooks = Webhooks(self)
        self.deliveries = Deliveries(self)
        self.mail = Mail(self)
        self.ops = Ops(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
