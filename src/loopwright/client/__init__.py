"""A typed Python client for the Loopwright v1 API: ``Client`` (sync) and ``AsyncClient``.

It imports only ``httpx``, ``pydantic`` and the product's pure event models
(``loopwright.domain``), never the server (checked by ``lint-imports`` and a test)::

    from loopwright.client import Client

    with Client("http://127.0.0.1:8080", "lw_...") as lw:
        agent = lw.agents.create(name="helper")
        session = lw.sessions.create(agent.id)
        for event in lw.sessions.send(session.id, "hello", stream=True):
            print(event.type)
"""

from loopwright.client._async import AsyncClient
from loopwright.client._sync import Client
from loopwright.client.errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    StreamClosed,
    TransportFailed,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from loopwright.client.events import Event, EventPage, UnknownEvent, parse_event
from loopwright.client.models import (
    Agent,
    Approval,
    CreatedWebhook,
    Delivery,
    LimitsUsage,
    Memory,
    MemorySuggestion,
    Message,
    Page,
    Readiness,
    Run,
    Schedule,
    ScheduleFire,
    SentMessage,
    Session,
    StoreSettings,
    Webhook,
    Worker,
)

__all__ = [
    "Agent",
    "ApiError",
    "Approval",
    "AsyncClient",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "CreatedWebhook",
    "Delivery",
    "Event",
    "EventPage",
    "Forbidden",
    "LimitsUsage",
    "Memory",
    "MemorySuggestion",
    "Message",
    "MethodNotAllowed",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "RateLimited",
    "Readiness",
    "Run",
    "Schedule",
    "ScheduleFire",
    "SentMessage",
    "ServerError",
    "Session",
    "StoreSettings",
    "StreamClosed",
    "TransportFailed",
    "Unauthenticated",
    "UnknownEvent",
    "UnsupportedMediaType",
    "ValidationFailed",
    "Webhook",
    "Worker",
    "parse_event",
]
