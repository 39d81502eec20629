"""Store settings (guardrails), usage against the limits, and tool approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import MISSING, Field, JsonValue, StringConstraints

from loopwright.domain.store_settings import (
    ApprovalPolicy,
    Key,
    OverLimit,
    PerMinute,
    StoreSettings,
    Tokens,
)
from loopwright.server.schemas.common import Input, Output

__all__ = ["ApprovalPolicy"]


class StoreSettingsPublic(StoreSettings):
    """The store's guardrails; ``store_concurrency`` is the server's (read-only here)."""

    store_concurrency: int = Field(description="concurrent runs per store (server setting)")


class StoreSettingsUpdate(Input):
    """Fields left out stay as they are. Operator only: `runs_per_min`, `tokens_per_min`,
    `daily_token_budget`; the store's admin may change the others."""

    runs_enabled: bool | MISSING = MISSING
    runs_per_min: PerMinute | MISSING | None = MISSING
    tokens_per_min: Tokens | MISSING | None = MISSING
    daily_token_budget: Tokens | MISSING | None = MISSING
    agent_daily_token_budgets: Annotated[dict[Key, Tokens], Field(max_length=1000)] | MISSING = (
        MISSING
    )
    over_limit: OverLimit | MISSING = MISSING
    tool_calls_per_min: PerMinute | MISSING | None = MISSING
    tool_limits: Annotated[dict[Key, PerMinute], Field(max_length=1000)] | MISSING = MISSING
    approval_ttl_s: Annotated[int, Field(ge=10, le=30 * 86_400)] | MISSING = MISSING


class Used(Output):
    used: int
    limit: int | None = Field(description="null: no limit")


class MinuteUsage(Output):
    start: datetime
    runs: Used
    tokens: Used


class DayUsage(Output):
    start: datetime
    tokens: Used


class AgentUsage(Output):
    agent_id: str
    tokens_today: Used


class ToolUsage(Output):
    tool: str
    calls_this_minute: Used


class LimitsUsage(Output):
    """What the store used of its limits in the current UTC minute and day."""

    runs_enabled: bool
    minute: MinuteUsage
    day: DayUsage
    agents: list[AgentUsage]
    tools: list[ToolUsage]


class ApprovalPublic(Output):
    id: str
    run_id: str
    session_id: str
    agent_id: str
    step: int
    call_id: str
    tool: str
    arguments: dict[str, Any]
    arguments_hash: str
    status: str = Field(description="pending, approved, rejected or expired")
    decided_arguments: dict[str, Any] | None
    reason: str | None
    decided_by: str | None = Field(description="the deciding key's id (`operator`)")
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None


class ApproveBody(Input):
    arguments: dict[str, JsonValue] | None = Field(
        None, description="edited arguments (checked against the tool's schema)"
    )


class RejectBody(Input):
    reason: Annotated[str, StringConstraints(max_length=2000)] = Field(
        "", description="what the model reads"
    )
