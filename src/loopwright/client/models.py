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


class Worker(Model):
    """A worker process on the database (operator): ``state`` is ``alive``, ``expired``
    (silent past its expiry) or ``fenced`` (declared dead, its runs recovered elsewhere)."""

    executor_id: str
    host: str
    pid: int
    version: str
    application_version: str
    started_at: datetime
    heartbeat_at: datetime
    fenced_at: datetime | None
    state: str


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
    memory_budget_tokens: int = 500
    reflect_idle_s: int | None = None
    mode: str
    executor_model: str | None
    executor_system_prompt: str
    status: str
    approval: str = "never"
    tool_approvals: dict[str, str] = {}
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


class MemorySource(Model):
    kind: str
    session_id: str | None
    run_id: str | None
    message_ids: list[str]


class Memory(Model):
    id: str
    agent_id: str
    content: str
    type: str
    importance: float
    shared: bool
    access_count: int
    last_accessed_at: datetime | None
    source: MemorySource
    superseded_by_id: str | None
    superseded_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MemorySuggestion(Model):
    id: str
    agent_id: str
    session_id: str | None
    run_id: str | None
    content: str
    type: str
    importance: float
    reason: str
    source_message_ids: list[str]
    relation: str
    existing_memory_id: str | None
    status: str
    memory_id: str | None
    decided_at: datetime | None
    created_at: datetime


class Reflection(Model):
    run_id: str | None
    messages: int


class MemorySettings(Model):
    embedding_model: str | None = None


class StoreSettings(Model):
    runs_enabled: bool
    runs_per_min: int | None
    tokens_per_min: int | None
    daily_token_budget: int | None
    agent_daily_token_budgets: dict[str, int]
    over_limit: str
    tool_calls_per_min: int | None
    tool_limits: dict[str, int]
    approval_ttl_s: int
    store_concurrency: int


class Meter(Model):
    used: int
    limit: int | None


class MinuteUsage(Model):
    start: datetime
    runs: Meter
    tokens: Meter


class DayUsage(Model):
    start: datetime
    tokens: Meter


class AgentLimits(Model):
    agent_id: str
    tokens_today: Meter


class ToolLimits(Model):
    tool: str
    calls_this_minute: Meter


class LimitsUsage(Model):
    runs_enabled: bool
    minute: MinuteUsage
    day: DayUsage
    agents: list[AgentLimits]
    tools: list[ToolLimits]


class Approval(Model):
    id: str
    run_id: str
    session_id: str
    agent_id: str
    step: int
    call_id: str
    tool: str
    arguments: dict[str, Any]
    arguments_hash: str
    status: str
    decided_arguments: dict[str, Any] | None
    reason: str | None
    decided_by: str | None
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None


class Schedule(Model):
    id: str
    agent_id: str
    cron: str
    timezone: str
    message: str
    session_policy: str
    session_id: str | None
    missed_policy: str
    enabled: bool
    next_due_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime


class ScheduleFire(Model):
    id: str
    schedule_id: str
    due_at: datetime
    fired_at: datetime
    status: str
    run_id: str | None
    session_id: str | None
    error: str | None


class CronPreview(Model):
    times: list[datetime]


class Webhook(Model):
    id: str
    agent_id: str
    name: str
    template: str
    session_policy: str
    enabled: bool
    url: str
    created_at: datetime


class CreatedWebhook(Webhook):
    secret: str
    """The signing secret (``whsec_…``): shown only in this answer."""


class WebhookReceipt(Model):
    id: str
    webhook_id: str
    message_id: str
    run_id: str | None
    received_at: datetime


class Delivery(Model):
    id: str
    run_id: str
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    attempts_log: list[dict[str, Any]]
    created_at: datetime
    delivered_at: datetime | None


class SigningSecret(Model):
    secret: str


class MailSenders(Model):
    senders: list[str]


class Readiness(Model):
    """``GET /readyz``: ``status`` (``ok`` or ``unavailable``) and, as extra fields, what each
    check found (``database``, ``migrations``, ``engine``, ``worker``, …)."""

    status: str

    @property
    def ready(self) -> bool:
        return self.status == "ok"

    @property
    def checks(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


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
    memory_budget_tokens: int
    reflect_idle_s: int | None
    approval: Literal["never", "read_write", "always"]
    tool_approvals: dict[str, Literal["always", "never"]]


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


MemoryType = Literal["preference", "fact", "instruction", "episodic"]
SessionPolicy = Literal["new", "reuse"]


class MemoryFields(TypedDict, total=False):
    content: str
    type: MemoryType
    importance: float
    shared: bool


class SuggestionEdits(MemoryFields, total=False):
    update_existing: bool


class StoreSettingsFields(TypedDict, total=False):
    runs_enabled: bool
    runs_per_min: int | None
    tokens_per_min: int | None
    daily_token_budget: int | None
    agent_daily_token_budgets: dict[str, int]
    over_limit: Literal["reject", "queue"]
    tool_calls_per_min: int | None
    tool_limits: dict[str, int]
    approval_ttl_s: int


class ScheduleSettings(TypedDict, total=False):
    timezone: str
    session_policy: SessionPolicy
    missed_policy: Literal["skip", "run_once"]
    enabled: bool


class ScheduleFields(ScheduleSettings, total=False):
    cron: str
    message: str


class WebhookFields(TypedDict, total=False):
    name: str
    template: str
    session_policy: SessionPolicy
    enabled: bool
