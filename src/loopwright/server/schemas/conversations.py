"""Sessions, messages, runs and steps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import MISSING, BaseModel, Field, StringConstraints

from loopwright.db.tables import MessageRow, RunRow
from loopwright.domain.vocabulary import BusyPolicy, Priority
from loopwright.server.schemas.common import Input, Output
from loopwright.server.schemas.urls import OutboundUrl

Title = Annotated[str, StringConstraints(max_length=300)]


class SessionCreate(Input):
    agent_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    title: Title = ""
    busy_policy: BusyPolicy = "enqueue"


class SessionUpdate(Input):
    title: Title | MISSING = MISSING
    busy_policy: BusyPolicy | MISSING = MISSING


class SessionPublic(Output):
    id: str
    agent_id: str
    title: str
    busy_policy: str
    created_at: datetime
    updated_at: datetime


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class MessageCreate(Input):
    content: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    priority: Priority = "normal"
    wait: bool = False
    wait_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 300.0
    callback_url: OutboundUrl | None = Field(
        default=None,
        description="POSTed the run's outcome when it ends, signed with the store's secret "
        "(Standard Webhooks); retried with backoff; see `GET /deliveries`",
    )


class MessagePublic(BaseModel):
    id: str
    session_id: str
    run_id: str | None
    kind: str
    content: str
    data: dict[str, Any]
    provider: str | None
    model: str | None
    usage: Usage | None
    latency_ms: float | None
    created_at: datetime

    @classmethod
    def of(cls, row: MessageRow) -> MessagePublic:
        usage = None
        if row.input_tokens is not None or row.output_tokens is not None:
            usage = Usage(input_tokens=row.input_tokens or 0, output_tokens=row.output_tokens or 0)
        return cls(
            id=row.id,
            session_id=row.session_id,
            run_id=row.run_id,
            kind=row.kind,
            content=row.content,
            data=row.data,
            provider=row.provider,
            model=row.model,
            usage=usage,
            latency_ms=row.latency_ms,
            created_at=row.created_at,
        )


class PlanStepRef(BaseModel):
    """The team plan step a run executes (an executor run)."""

    plan_id: str
    step_id: str
    attempt: int

    @classmethod
    def of(cls, team_step: dict[str, Any] | None) -> PlanStepRef | None:
        if not team_step:
            return None
        return cls(
            plan_id=str(team_step["plan_id"]),
            step_id=str(team_step["step_key"]),
            attempt=int(team_step.get("attempt", 1)),
        )


class QueuePlacePublic(BaseModel):
    """Where a queued run stands (``GET /runs/{id}`` only): a snapshot, since a run of higher
    priority sent later goes ahead of it."""

    ahead: int = Field(description="queued runs of the store that start before this one")
    running: int = Field(description="the store's runs holding a slot now")
    waits_for_run: str | None = Field(
        description="the earlier run of its session that must end first"
    )


class RunPublic(BaseModel):
    id: str
    session_id: str
    agent_id: str
    status: str
    stop_reason: str | None
    error: str | None
    priority: str
    trigger: str
    steps: int
    usage: Usage
    parent_run_id: str | None
    read_only: bool
    plan_step: PlanStepRef | None = None
    queue: QueuePlacePublic | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, row: RunRow) -> RunPublic:
        return cls(
            id=row.id,
            session_id=row.session_id,
            agent_id=row.agent_id,
            status=row.status,
            stop_reason=row.stop_reason,
            error=row.error,
            priority=row.priority,
            trigger=row.trigger,
            steps=row.steps,
            usage=Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens),
            parent_run_id=row.parent_run_id,
            plan_step=PlanStepRef.of(row.team_step),
            read_only=bool(row.read_only),
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


class SentMessage(BaseModel):
    message: MessagePublic
    run: RunPublic


class StepMemory(BaseModel):
    """A long-term memory the run was given, and why (see ``runtime/memory``)."""

    memory_id: str
    content: str
    type: str
    score: float
    relevance: float
    importance: float
    recency: float
    tokens: int


class StepPublic(Output):
    id: str
    index: int
    provider: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    latency_ms: float
    tool_calls: list[Any]
    memories: list[StepMemory] | None = Field(
        None, description="the first step: the long-term memories in the run's context"
    )
    created_at: datetime
