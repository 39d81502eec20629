"""Payloads of team mode and memory events. None is emitted yet: they are the contract the
planner, its executors and memory suggestions will emit (see ``event_payloads`` for the rules
every payload follows)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from loopwright.domain.event_payloads import Count, EventPayload, PayloadModel, TokenUsage
from loopwright.domain.vocabulary import MemoryType


class PlanStep(PayloadModel):
    step_id: str
    index: Count
    description: str
    depends_on: list[str] = Field(description="the step_ids this step waits for")


class PlanCreatedPayload(EventPayload):
    """Not emitted yet. A team agent's planner made a plan."""

    plan_id: str
    goal: str
    steps: list[PlanStep]


class PlanStepStartedPayload(EventPayload):
    """Not emitted yet. An executor run took up one step of the plan."""

    plan_id: str
    step_id: str
    executor_run_id: str


class PlanStepCompletedPayload(EventPayload):
    """Not emitted yet. A plan step ended with its executor's answer (or error) as ``result``."""

    plan_id: str
    step_id: str
    status: Literal["completed", "failed"]
    result: str | None = None


class ExecutorSpawnedPayload(EventPayload):
    """Not emitted yet. A child run started for an executor (``run_id`` is its parent)."""

    child_run_id: str
    agent_id: str
    instruction: str
    plan_id: str | None = None
    step_id: str | None = None


class ExecutorResultPayload(EventPayload):
    """Not emitted yet. A child run ended; its answer flows back to the parent run."""

    child_run_id: str
    status: Literal["completed", "failed", "cancelled", "timed_out", "max_steps"]
    text: str
    usage: TokenUsage
    error: str | None = None


class MemorySuggestedPayload(EventPayload):
    """Not emitted yet. The model proposes a memory for a person to approve, edit or reject."""

    suggestion_id: str
    agent_id: str
    content: str
    type: MemoryType
    importance: Annotated[float, Field(ge=0, le=1)]
