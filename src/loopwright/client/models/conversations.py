"""Sessions, messages, runs, their steps, plans and tool calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Model


class Session(Model):
    id: str
    agent_id: str
    title: str
    busy_policy: str
    created_at: datetime
    updated_at: datetime


class TokenCount(Model):
    input_tokens: int = 0
    output_tokens: int = 0


class Message(Model):
    id: str
    session_id: str
    run_id: str | None
    kind: str
    content: str
    data: dict[str, Any]
    provider: str | None
    model: str | None
    usage: TokenCount | None
    latency_ms: float | None
    created_at: datetime


class PlanStepRef(Model):
    plan_id: str
    step_id: str
    attempt: int


TERMINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled", "timed_out", "max_steps"})


class QueuePlace(Model):
    """Where a queued run stands (``runs.get`` only): queued runs that start before it, the
    store's running runs, and the earlier run of its session it waits for."""

    ahead: int
    running: int
    waits_for_run: str | None


class Run(Model):
    id: str
    session_id: str
    agent_id: str
    status: str
    stop_reason: str | None
    error: str | None
    priority: str
    trigger: str
    steps: int
    usage: TokenCount
    parent_run_id: str | None
    read_only: bool
    plan_step: PlanStepRef | None = None
    queue: QueuePlace | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


class SentMessage(Model):
    message: Message
    run: Run


class Step(Model):
    id: str
    index: int
    provider: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    latency_ms: float
    tool_calls: list[Any]
    created_at: datetime


class PlanSummary(Model):
    id: str
    run_id: str
    goal: str
    reason: str
    status: str
    created_at: datetime
    finished_at: datetime | None


class Plan(PlanSummary):
    session_id: str
    steps: list[dict[str, Any]]
    usage: dict[str, Any]


class ToolCall(Model):
    id: str
    run_id: str | None
    call_id: str
    agent_id: str | None
    tool_name: str
    arguments: dict[str, Any]
    result: Any
    outcome: str
    duration_ms: float
    created_at: datetime
