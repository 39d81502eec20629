"""The payload of each event type, as a strict pydantic model (pure types, no I/O).

One model per type, so a reader of ``payload`` knows its fields from the event's ``type``.
Models are strict (no coercion), refuse unknown fields and are immutable: an emitter that
builds one cannot put a wrong shape in the log. Optional fields are absent or null when they
do not apply. Types whose docstring says *not emitted yet* are the product's next events.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from loopwright.domain.vocabulary import Priority, RunTrigger

Count = Annotated[int, Field(ge=0)]
Milliseconds = Annotated[float, Field(ge=0)]
Arguments = dict[str, JsonValue]
# An ISO 8601 string in JSON: the one field kind parsed from text, so not strict.
Timestamp = Annotated[AwareDatetime, Field(strict=False)]


class PayloadModel(BaseModel):
    """Strict, closed and immutable: the base of payloads and of the models nested in them."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EventPayload(PayloadModel):
    """Base of every event type's payload model."""


class TokenUsage(PayloadModel):
    input_tokens: Count
    output_tokens: Count


# -- messages and runs --------------------------------------------------------------------------


class ChatMessageSentPayload(EventPayload):
    """A user message was accepted; its run is queued in the same commit."""

    message_id: str
    kind: Literal["user"]
    content: str


class RunQueuedPayload(EventPayload):
    agent_id: str
    priority: Priority
    trigger: RunTrigger
    parent_run_id: str | None = Field(None, description="the run that started this child run")


class RunStartedPayload(EventPayload):
    agent_id: str
    model: str = Field(description="the agent's primary model, `provider:model`")


class RunWaitingPayload(EventPayload):
    """The run waits (and gives its store slot back) for its child runs (or, later, an
    approval)."""

    waiting_on: Literal["child_runs", "approval"]
    child_run_ids: list[str] = []
    approval_id: str | None = None


class RunResumedPayload(EventPayload):
    """A waiting run is queued again: what it waited for is done."""

    waited_on: Literal["child_runs", "approval"]


_CALLBACK = "the run has a completion callback, due now (absent: it has none)"


class RunCompletedPayload(EventPayload):
    status: Literal["completed", "max_steps"]
    stop_reason: Literal["final_answer", "max_steps"]
    usage: TokenUsage
    error: str | None = Field(None, description="set when the step limit stopped the run")
    callback: bool = Field(False, description=_CALLBACK)


class RunFailedPayload(EventPayload):
    status: Literal["failed", "timed_out"]
    stop_reason: Literal["model_error", "timeout", "internal_error", "invalid_plan", "budget"]
    usage: TokenUsage
    error: str
    callback: bool = Field(False, description=_CALLBACK)


class RunCancelledPayload(EventPayload):
    status: Literal["cancelled"]
    stop_reason: Literal["cancelled", "parent_cancelled"]
    usage: TokenUsage
    callback: bool = Field(False, description=_CALLBACK)


# -- the model ----------------------------------------------------------------------------------


class LlmTextDeltaPayload(EventPayload):
    """Live only (no ``seq``): a piece of the reply's text as the model streams it."""

    step: Count
    delta: str


class LlmReasoningDeltaPayload(EventPayload):
    """Live only (no ``seq``): a piece of the model's reasoning as it streams."""

    step: Count
    delta: str


class RequestedToolCall(PayloadModel):
    call_id: str
    name: str = Field(description="the tool's name as the model gave it")
    arguments: Arguments
    arguments_error: str | None = Field(
        description="why the arguments were not a JSON object (the call then fails)"
    )


class LlmResponseReceivedPayload(EventPayload):
    """A complete model reply, persisted as the assistant message ``message_id``."""

    step: Count
    message_id: str
    text: str
    reasoning: str | None
    tool_calls: list[RequestedToolCall]
    usage: TokenUsage
    latency_ms: Milliseconds
    provider: str
    model: str | None = Field(description="as the provider reported it (null if it did not)")


# -- tools --------------------------------------------------------------------------------------


class ToolExecutingPayload(EventPayload):
    step: Count
    call_id: str
    tool: str = Field(description="the tool's canonical name (`server.tool` for MCP)")
    arguments: Arguments


class ToolCompletedPayload(EventPayload):
    step: Count
    call_id: str
    tool: str
    ok: Literal[True]
    outcome: Literal["ok"]
    result: JsonValue
    duration_ms: Milliseconds


class ToolFailedPayload(EventPayload):
    """The tool returned an error, or the server refused the call (not assigned, read-only,
    unavailable, rate limited)."""

    step: Count
    call_id: str
    tool: str
    ok: Literal[False]
    outcome: Literal["error", "refused"]
    result: JsonValue
    duration_ms: Milliseconds


class ApprovalRequestedPayload(EventPayload):
    """A tool call waits for a person's decision (the run goes ``waiting``)."""

    approval_id: str
    step: Count
    call_id: str
    tool: str
    arguments: Arguments
    expires_at: Timestamp


class ApprovalDecidedPayload(EventPayload):
    """``arguments`` are the approver's edited arguments, if any; ``reason``
    is what the model sees after a rejection; ``decided_by`` is the deciding key's id (none
    when the approval expired)."""

    approval_id: str
    call_id: str
    decision: Literal["approved", "rejected", "expired"]
    arguments: Arguments | None = None
    reason: str | None = None
    decided_by: str | None = None
