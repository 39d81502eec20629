"""Typed events: the server's published models (``PublicEvent``), and a generic event for a
type this client does not know yet (a newer server) so a reader can still show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from loopwright.domain.public_events import (
    AnalysisEvent,
    ApprovalDecidedEvent,
    ApprovalRequestedEvent,
    ChatMessageSentEvent,
    EventEnvelope,
    ExecutorResultEvent,
    ExecutorSpawnedEvent,
    LlmReasoningDeltaEvent,
    LlmResponseReceivedEvent,
    LlmTextDeltaEvent,
    PlanCreatedEvent,
    PlanStepCompletedEvent,
    PlanStepStartedEvent,
    PublicEvent,
    RunCancelledEvent,
    RunCompletedEvent,
    RunFailedEvent,
    RunQueuedEvent,
    RunResumedEvent,
    RunStartedEvent,
    RunWaitingEvent,
    ToolCompletedEvent,
    ToolExecutingEvent,
    ToolFailedEvent,
)

__all__ = [  # the typed events of a run, for ``isinstance`` and ``match``
    "AnalysisEvent",
    "ApprovalDecidedEvent",
    "ApprovalRequestedEvent",
    "ChatMessageSentEvent",
    "Event",
    "EventPage",
    "ExecutorResultEvent",
    "ExecutorSpawnedEvent",
    "LlmReasoningDeltaEvent",
    "LlmResponseReceivedEvent",
    "LlmTextDeltaEvent",
    "PlanCreatedEvent",
    "PlanStepCompletedEvent",
    "PlanStepStartedEvent",
    "RunCancelledEvent",
    "RunCompletedEvent",
    "RunFailedEvent",
    "RunQueuedEvent",
    "RunResumedEvent",
    "RunStartedEvent",
    "RunWaitingEvent",
    "ToolCompletedEvent",
    "ToolExecutingEvent",
    "ToolFailedEvent",
    "UnknownEvent",
    "parse_event",
    "parse_event_object",
]


class UnknownEvent(BaseModel):
    """An event whose type (or shape) this client's models do not know: its fields as sent."""

    model_config = ConfigDict(extra="allow", frozen=True)

    seq: int | None
    type: str
    session_id: str | None
    run_id: str | None
    created_at: datetime
    payload: dict[str, Any]


Event = EventEnvelope | UnknownEvent
"""What the client yields: a typed envelope (``RunStartedEvent``, …) or an ``UnknownEvent``."""

_TYPED: Final[TypeAdapter[EventEnvelope]] = TypeAdapter(PublicEvent)

RUN_ENDS: Final[frozenset[str]] = frozenset({"run.completed", "run.failed", "run.cancelled"})


def parse_event(data: str | bytes) -> Event:
    """One event's JSON (an SSE frame's ``data``, a WebSocket frame, a page's item)."""
    try:
        return _TYPED.validate_json(data)
    except ValidationError:
        return UnknownEvent.model_validate_json(data)


def parse_event_object(item: dict[str, Any]) -> Event:
    try:
        return _TYPED.validate_python(item)
    except ValidationError:
        return UnknownEvent.model_validate(item)


class EventPage(BaseModel):
    items: list[Event]
    next_after: int
    """Pass as the next call's ``after``."""
