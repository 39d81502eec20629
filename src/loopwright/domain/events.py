"""The event vocabulary: every change in a store is one of these, appended to its log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

EventType = Literal[
    "chat.message_sent",
    "run.queued",
    "run.started",
    "llm.text_delta",
    "llm.reasoning_delta",
    "llm.response_received",
    "tool.executing",
    "tool.completed",
    "tool.failed",
    "analysis",
    "plan.created",
    "plan.step_started",
    "plan.step_completed",
    "executor.spawned",
    "executor.result",
    "memory.suggested",
    "approval.requested",
    "approval.decided",
    "run.waiting",
    "run.resumed",
    "run.completed",
    "run.failed",
    "run.cancelled",
    "task.created",
    "task.updated",
    "task.deleted",
    "project.created",
    "project.updated",
    "project.deleted",
    "document.created",
    "document.updated",
    "document.deleted",
    "agent.created",
    "agent.updated",
    "agent.deleted",
    "session.created",
    "session.updated",
    "session.deleted",
]

# Deltas go to live subscribers only; the complete message is persisted when the response ends.
EPHEMERAL_TYPES: Final[frozenset[str]] = frozenset({"llm.text_delta", "llm.reasoning_delta"})


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended: the log assigns its ``seq`` and ``created_at``."""

    type: EventType
    payload: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A committed event. Ephemeral events (deltas) carry ``seq=None``."""

    store_id: str
    seq: int | None
    type: str
    session_id: str | None
    run_id: str | None
    created_at: datetime
    payload: dict[str, Any]

    def to_public(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "session_id": self.session_id,
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat(),
            "payload": self.payload,
        }


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a reader wants: one session, one run, the child runs of one run (a team
    planner's executors), some types (None: any)."""

    session_id: str | None = None
    run_id: str | None = None
    types: frozenset[str] | None = None
    parent_run_id: str | None = None
    children: set[str] = field(default_factory=set, compare=False, hash=False)
    """With ``parent_run_id``: its child runs known so far. A reader fills it with those that
    exist when it subscribes; ``matches`` adds each one whose ``run.queued`` it sees."""

    def matches(self, event: Event) -> bool:
        if self.session_id is not None and event.session_id != self.session_id:
            return False
        if self.run_id is not None and event.run_id != self.run_id:
            return False
        if self.parent_run_id is not None:
            if (
                event.type == "run.queued"
                and event.run_id is not None
                and event.payload.get("parent_run_id") == self.parent_run_id
            ):
                self.children.add(event.run_id)
            if event.run_id not in self.children:
                return False
        return self.types is None or event.type in self.types
