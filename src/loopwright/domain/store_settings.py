"""A store's guardrails (``stores.settings``): rate limits, token budgets, the rollout switch,
tool limits and approvals, as one strict model (pure types, no I/O).

Who may change what (``PATCH /v1/stores/{s}/settings``): the operator every field; a store's
admin the ``ADMIN_FIELDS`` (how its own agents and tools behave within what the operator
granted). The fields that cap what a store may spend (``OPERATOR_FIELDS``) are the operator's.
``null`` for a rate or a budget: no limit.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

PerMinute = Annotated[int, Field(ge=1, le=1_000_000)]
Tokens = Annotated[int, Field(ge=1, le=1_000_000_000_000)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ApprovalPolicy = Literal["never", "read_write", "always"]
ToolApproval = Literal["never", "always"]
OverLimit = Literal["reject", "queue"]

DEFAULT_RUNS_PER_MIN: Final = 20
DEFAULT_TOKENS_PER_MIN: Final = 30_000


class StoreSettings(BaseModel):
    """Every field has its default, so a store whose ``settings`` are ``{}`` has them all."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    runs_enabled: bool = Field(
        True, description="the rollout switch: off, new messages are refused (503)"
    )
    runs_per_min: PerMinute | None = Field(
        DEFAULT_RUNS_PER_MIN, description="messages accepted per UTC minute (null: no limit)"
    )
    tokens_per_min: Tokens | None = Field(
        DEFAULT_TOKENS_PER_MIN, description="model tokens per UTC minute (null: no limit)"
    )
    daily_token_budget: Tokens | None = Field(
        None, description="model tokens per UTC day for the store (null: no budget)"
    )
    agent_daily_token_budgets: Annotated[dict[Key, Tokens], Field(max_length=1000)] = Field(
        default_factory=dict, description="model tokens per UTC day, by agent id"
    )
    over_limit: OverLimit = Field(
        "reject",
        description="over `runs_per_min`: `reject` (429) or `queue` (the run waits `queued` "
        "for the first minute with room)",
    )
    tool_calls_per_min: PerMinute | None = Field(
        None, description="calls per minute of each tool (null: the server's default)"
    )
    tool_limits: Annotated[dict[Key, PerMinute], Field(max_length=1000)] = Field(
        default_factory=dict, description="calls per minute, by tool name (over the default)"
    )
    approval_ttl_s: Annotated[int, Field(ge=10, le=30 * 86_400)] = Field(
        3600, description="how long an approval waits before it expires (counts as rejected)"
    )


OPERATOR_FIELDS: Final = frozenset({"runs_per_min", "tokens_per_min", "daily_token_budget"})
ADMIN_FIELDS: Final = frozenset(StoreSettings.model_fields) - OPERATOR_FIELDS

_DEFAULT = StoreSettings()
_FIELDS: Final = frozenset(StoreSettings.model_fields)


def parse(stored: object) -> StoreSettings:
    """The guardrails among the store's stored settings (``{}`` or partial: defaults fill
    in). Other features keep their own sections beside them (``memory``), not read here."""
    if not stored:
        return _DEFAULT
    assert isinstance(stored, dict)
    return StoreSettings.model_validate({k: v for k, v in stored.items() if k in _FIELDS})
