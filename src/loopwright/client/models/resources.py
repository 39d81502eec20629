"""A store's resources: providers, agents, projects, tasks, documents, tools, MCP servers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Model


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
