"""Events as clients receive them: one envelope model per event type, discriminated by ``type``.

``Event.to_public()`` is ``{seq, type, session_id, run_id, created_at, payload}``; here each
type's envelope names its payload model, and ``PublicEvent`` is their union, discriminated by
``type``. The server publishes it in ``/openapi.json`` for typed clients and the UI; tests
validate every event the suite produces against it (``validate_event``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from loopwright.domain import event_payloads as runs
from loopwright.domain import resource_payloads as resources
from loopwright.domain import team_payloads as team
from loopwright.domain.event_payloads import EventPayload, Timestamp


class EventEnvelopeBase(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    seq: int | None
    type: str
    session_id: str | None
    run_id: str | None
    created_at: Timestamp
    payload: EventPayload


class StoredEvent(EventEnvelopeBase):
    """An event of the store's log: ``seq`` orders the store's events (the SSE ``id``)."""

    seq: Annotated[int, Field(ge=1)]


class StreamedEvent(EventEnvelopeBase):
    """A live-only event (a token delta): streamed to subscribers, never stored, no ``seq``."""

    seq: None


class ChatMessageSentEvent(StoredEvent):
    type: Literal["chat.message_sent"]
    payload: runs.ChatMessageSentPayload


class RunQueuedEvent(StoredEvent):
    type: Literal["run.queued"]
    payload: runs.RunQueuedPayload


class RunStartedEvent(StoredEvent):
    type: Literal["run.started"]
    payload: runs.RunStartedPayload


class LlmTextDeltaEvent(StreamedEvent):
    type: Literal["llm.text_delta"]
    payload: runs.LlmTextDeltaPayload


class LlmReasoningDeltaEvent(StreamedEvent):
    type: Literal["llm.reasoning_delta"]
    payload: runs.LlmReasoningDeltaPayload


class LlmResponseReceivedEvent(StoredEvent):
    type: Literal["llm.response_received"]
    payload: runs.LlmResponseReceivedPayload


class ToolExecutingEvent(StoredEvent):
    type: Literal["tool.executing"]
    payload: runs.ToolExecutingPayload


class ToolCompletedEvent(StoredEvent):
    type: Literal["tool.completed"]
    payload: runs.ToolCompletedPayload


class ToolFailedEvent(StoredEvent):
    type: Literal["tool.failed"]
    payload: runs.ToolFailedPayload


class ApprovalRequestedEvent(StoredEvent):
    type: Literal["approval.requested"]
    payload: runs.ApprovalRequestedPayload


class ApprovalDecidedEvent(StoredEvent):
    type: Literal["approval.decided"]
    payload: runs.ApprovalDecidedPayload


class RunWaitingEvent(StoredEvent):
    type: Literal["run.waiting"]
    payload: runs.RunWaitingPayload


class RunResumedEvent(StoredEvent):
    type: Literal["run.resumed"]
    payload: runs.RunResumedPayload


class RunCompletedEvent(StoredEvent):
    type: Literal["run.completed"]
    payload: runs.RunCompletedPayload


class RunFailedEvent(StoredEvent):
    type: Literal["run.failed"]
    payload: runs.RunFailedPayload


class RunCancelledEvent(StoredEvent):
    type: Literal["run.cancelled"]
    payload: runs.RunCancelledPayload


class AnalysisEvent(StoredEvent):
    type: Literal["analysis"]
    payload: team.AnalysisPayload


class PlanCreatedEvent(StoredEvent):
    type: Literal["plan.created"]
    payload: team.PlanCreatedPayload


class PlanStepStartedEvent(StoredEvent):
    type: Literal["plan.step_started"]
    payload: team.PlanStepStartedPayload


class PlanStepCompletedEvent(StoredEvent):
    type: Literal["plan.step_completed"]
    payload: team.PlanStepCompletedPayload


class ExecutorSpawnedEvent(StoredEvent):
    type: Literal["executor.spawned"]
    payload: team.ExecutorSpawnedPayload


class ExecutorResultEvent(StoredEvent):
    type: Literal["executor.result"]
    payload: team.ExecutorResultPayload


class MemorySuggestedEvent(StoredEvent):
    type: Literal["memory.suggested"]
    payload: team.MemorySuggestedPayload


class AgentCreatedEvent(StoredEvent):
    type: Literal["agent.created"]
    payload: resources.AgentCreatedPayload


class AgentUpdatedEvent(StoredEvent):
    type: Literal["agent.updated"]
    payload: resources.AgentUpdatedPayload


class AgentDeletedEvent(StoredEvent):
    type: Literal["agent.deleted"]
    payload: resources.AgentDeletedPayload


class SessionCreatedEvent(StoredEvent):
    type: Literal["session.created"]
    payload: resources.SessionCreatedPayload


class SessionUpdatedEvent(StoredEvent):
    type: Literal["session.updated"]
    payload: resources.SessionUpdatedPayload


class SessionDeletedEvent(StoredEvent):
    type: Literal["session.deleted"]
    payload: resources.SessionDeletedPayload


class ProjectCreatedEvent(StoredEvent):
    type: Literal["project.created"]
    payload: resources.ProjectCreatedPayload


class ProjectUpdatedEvent(StoredEvent):
    type: Literal["project.updated"]
    payload: resources.ProjectUpdatedPayload


class ProjectDeletedEvent(StoredEvent):
    type: Literal["project.deleted"]
    payload: resources.ProjectDeletedPayload


class TaskCreatedEvent(StoredEvent):
    type: Literal["task.created"]
    payload: resources.TaskCreatedPayload


class TaskUpdatedEvent(StoredEvent):
    type: Literal["task.updated"]
    payload: resources.TaskUpdatedPayload


class TaskDeletedEvent(StoredEvent):
    type: Literal["task.deleted"]
    payload: resources.TaskDeletedPayload


class DocumentCreatedEvent(StoredEvent):
    type: Literal["document.created"]
    payload: resources.DocumentCreatedPayload


class DocumentUpdatedEvent(StoredEvent):
    type: Literal["document.updated"]
    payload: resources.DocumentUpdatedPayload


class DocumentDeletedEvent(StoredEvent):
    type: Literal["document.deleted"]
    payload: resources.DocumentDeletedPayload


EventEnvelope = (
    ChatMessageSentEvent
    | RunQueuedEvent
    | RunStartedEvent
    | LlmTextDeltaEvent
    | LlmReasoningDeltaEvent
    | LlmResponseReceivedEvent
    | ToolExecutingEvent
    | ToolCompletedEvent
    | ToolFailedEvent
    | ApprovalRequestedEvent
    | ApprovalDecidedEvent
    | RunWaitingEvent
    | RunResumedEvent
    | RunCompletedEvent
    | RunFailedEvent
    | RunCancelledEvent
    | AnalysisEvent
    | PlanCreatedEvent
    | PlanStepStartedEvent
    | PlanStepCompletedEvent
    | ExecutorSpawnedEvent
    | ExecutorResultEvent
    | MemorySuggestedEvent
    | AgentCreatedEvent
    | AgentUpdatedEvent
    | AgentDeletedEvent
    | SessionCreatedEvent
    | SessionUpdatedEvent
    | SessionDeletedEvent
    | ProjectCreatedEvent
    | ProjectUpdatedEvent
    | ProjectDeletedEvent
    | TaskCreatedEvent
    | TaskUpdatedEvent
    | TaskDeletedEvent
    | DocumentCreatedEvent
    | DocumentUpdatedEvent
    | DocumentDeletedEvent
)
PublicEvent = Annotated[EventEnvelope, Field(discriminator="type")]

_ADAPTER: Final[TypeAdapter[EventEnvelope]] = TypeAdapter(PublicEvent)


def _payload_models() -> dict[str, type[EventPayload]]:
    models: dict[str, type[EventPayload]] = {}
    for envelope in get_args(EventEnvelope):
        (type_,) = get_args(envelope.model_fields["type"].annotation)
        payload = envelope.model_fields["payload"].annotation
        assert isinstance(payload, type) and issubclass(payload, EventPayload)
        models[type_] = payload
    return models


PAYLOAD_MODELS: Final[dict[str, type[EventPayload]]] = _payload_models()


def payload_model(type_: str) -> type[EventPayload]:
    """The payload model of an event type; KeyError for a type that does not exist."""
    return PAYLOAD_MODELS[type_]


def validate_event(public: Mapping[str, Any]) -> EventEnvelope:
    """An event as ``to_public()`` gives it (or as JSON-decoded from SSE or WebSocket), checked
    against its type's envelope; pydantic's ValidationError says what does not match."""
    return _ADAPTER.validate_python(public)
