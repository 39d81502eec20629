"""Settings, limits, usage and approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Model


class UsageReport(Model):
    since: datetime
    until: datetime
    bucket: str
    group_by: str | None
    buckets: list[datetime]
    totals: dict[str, Any]
    series: list[dict[str, Any]]


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
