"""The client's response models and the request fields it sends.

Responses: the server's own schema models (``server/schemas``) import FastAPI and the database
tables, so they cannot be loaded without the server; these mirror them (the component of the same
name without ``Public`` in ``/openapi.json``) and accept fields a newer server adds
(``extra="allow"``), so an old client keeps working. Events are the server's published models
themselves (``loopwright.domain.public_events``, pure pydantic), see ``events``.

Requests: ``TypedDict``s of the fields each create/update takes; the server checks them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, Required, TypedDict, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Page(Model, Generic[T]):
    """One page of a list; pass ``next_cursor`` as the next call's ``cursor`` (or use
    ``client.paginate``)."""

    items: list[T]
    next_cursor: str | None = None


class Me(Model):
    store_id: str | None
    role: str
    key_id: str | None = None
    name: str | None = None


class Store(Model):
    id: str
    name: str
    created_at: datetime


class Key(Model):
    id: str
    role: str
    name: str
    prefix: str
    created_at: datetime


class IssuedKey(Key):
    key: str
    """The key itself: shown only in this answer."""


class Provider(Model):
    id: str
    name: str
    kind: str
    base_url: str | None
    has_api_key: bool
    created_at: datetime


class Agent(Model):
    id: str
    name: str
    description: str
    goal: str
    system_prompt: str
    model: str
    fallback_models: list[str]
    temperature: float | None
    max_steps: int
    timeout_s: float
    tools: list[str]
    memory: bool
    mode: str
    executor_model: str | None
    executor_system_prompt: str
    status: str
    created_at: datetime
    updated_at: datetime


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


class Project(Model):
    id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class Task(Model):
    id: str
    project_id: str | None
    title: str
    description: str
    status: str
    created_at: datetime
    updated_at: datetime


class Document(Model):
    id: str
    project_id: str | None
    title: str
    content: str
    created_at: datetime
    updated_at: datetime


class Tool(Model):
    name: str
    kind: str
    description: str
    read_only: bool
    parameters: dict[str, Any]
    http: dict[str, Any] | None = None


class ToolTestResult(Model):
    ok: bool
    result: Any
    duration_ms: float


class McpServer(Model):
    id: str
    name: str
    transport: str
    url: str
    header_names: list[str]
    enabled: bool
    created_at: datetime


class McpHealth(Model):
    ok: bool
    tools: list[str]
    latency_ms: float
    error: str | None = None


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


class UsageReport(Model):
    since: datetime
    until: datetime
    bucket: str
    group_by: str | None
    buckets: list[datetime]
    totals: dict[str, Any]
    series: list[dict[str, Any]]


# -- request fields ------------------------------------------------------------------------------

BusyPolicy = Literal["enqueue", "reject", "interrupt"]
Priority = Literal["critical", "high", "normal", "low"]


class AgentSettings(TypedDict, total=False):
    description: str
    goal: str
    system_prompt: str
    model: str
    fallback_models: list[str]
    temperature: float | None
    max_steps: int
    timeout_s: float
    tools: list[str]
    memory: bool
    mode: Literal["single", "team"]
    executor_model: str | None
    executor_system_prompt: str
    status: Literal["active", "disabled"]


class NewAgent(AgentSettings, total=False):
    name: Required[str]


class AgentFields(AgentSettings, total=False):
    name: str


class ProviderFields(TypedDict, total=False):
    base_url: str | None
    api_key: str | None


class HttpToolFields(TypedDict, total=False):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    parameters: dict[str, Any]
    headers: dict[str, str]
    read_only: bool


class McpServerFields(TypedDict, total=False):
    name: str
    transport: Literal["streamable_http", "sse"]
    url: str
    headers: dict[str, str] | None


class ProjectFields(TypedDict, total=False):
    name: str
    description: str


class TaskSettings(TypedDict, total=False):
    description: str
    status: Literal["todo", "in_progress", "done"]
    project_id: str | None


class TaskFields(TaskSettings, total=False):
    title: str


class DocumentSettings(TypedDict, total=False):
    content: str
    project_id: str | None


class DocumentFields(DocumentSettings, total=False):
    title: str
