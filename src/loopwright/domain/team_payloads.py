"""Payloads of team mode and memory events (see ``event_payloads`` for the rules every payload
follows)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from loopwright.domain.event_payloads import Count, EventPayload, PayloadModel, TokenUsage
from loopwright.domain.vocabulary import MemoryType


class AnalysisPayload(EventPayload):
    """A team agent's planner routed the message: ``simple`` (it answers directly), ``tool``
    (the ordinary loop with its tools) or ``complex`` (``plan_id`` names its plan)."""

    route: Literal["simple", "tool", "complex"]
    reason: str
    plan_id: str | None = None


class PlanStep(PayloadModel):
    step_id: str = Field(description="the planner's name for the step, unique in its plan")
    index: Count
    title: str
    description: str = Field(description="the executor's instructions")
    depends_on: list[str] = Field(description="the step_ids this step waits for")
    tools: list[str] = Field(description="the read-only tools its executor may use (empty: all)")


class PlanCreatedPayload(EventPayload):
    """A team agent's planner made a plan (readable at ``/plans/{plan_id}``)."""

    plan_id: str
    goal: str
    reason: str
    steps: list[PlanStep]


class PlanStepStartedPayload(EventPayload):
    """An executor run took up one step of the plan (``attempt`` 2 and up: a retry)."""

    plan_id: str
    step_id: str
    executor_run_id: str
    attempt: Annotated[int, Field(ge=1)]


class PlanStepCompletedPayload(EventPayload):
    """A plan step ended: ``completed`` with its executor's answer as ``result``, ``failed``
    after its last attempt, or ``skipped`` (a step it depends on did not complete)."""

    plan_id: str
    step_id: str
    status: Literal["completed", "failed", "skipped"]
    attempts: Count
    result: str | None = None
    error: str | None = None


class ExecutorSpawnedPayload(EventPayload):
    """A child run started as a plan step's executor (``run_id`` is the planner's run); its
    own events (deltas, tool calls) carry ``child_run_id`` and ``child_session_id``."""

    child_run_id: str
    child_session_id: str
    agent_id: str
    instruction: str
    max_steps: Annotated[int, Field(ge=1)]
    plan_id: str | None = None
    step_id: str | None = None
    attempt: Annotated[int, Field(ge=1)] = 1


class ExecutorResultPayload(EventPayload):
    """An executor run ended; its answer flows back to the planner's run."""

    child_run_id: str
    status: Literal["completed", "failed", "cancelled", "timed_out", "max_steps"]
    text: str
    usage: TokenUsage
    error: str | None = None
    plan_id: str | None = None
    step_id: str | None = None
    retry: bool = Field(False, description="the step gets another attempt")


class MemorySuggestedPayload(EventPayload):
    """A reflection run proposes a memory for a person to approve, edit or reject."""

    suggestion_id: str
    agent_id: str
    content: str
    type: MemoryType
    importance: Annotated[float, Field(ge=0, le=1)]
    reason: str = ""
    source_message_ids: list[str] = []
    relation: Literal["new", "duplicate", "contradiction"] = "new"
    existing_memory_id: str | None = Field(
        None, description="the memory it repeats or contradicts (approve may update it)"
    )
