"""The fields each create or update takes (``TypedDict``s); the server checks them."""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

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
