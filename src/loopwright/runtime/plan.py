"""What a run executes with, fixed when it starts and stored on the run (so a replay after a
crash sees the same configuration, whatever happened to the agent since)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RunPlan:
    store_id: str
    run_id: str
    session_id: str
    agent_id: str
    models: tuple[str, ...]
    system_prompt: str
    tools: tuple[str, ...]
    temperature: float | None
    max_steps: int
    deadline: float  # epoch seconds; the run times out after this
    read_only: bool = False  # team-mode executors: read-only tools only
    mode: str = "single"  # "team": the planner's turn (``engine.team``); "reflect"
    memory_budget: int = 0  # tokens of long-term memories in the context (0: memory off)
    message_id: str | None = None  # the message the run answers (memories are chosen for it)
    # The store's guardrails when the run started (``domain.store_settings``, as stored).
    limits: dict[str, Any] = field(default_factory=dict)
    approval: str = "never"  # the agent's tool approval policy
    tool_approvals: dict[str, Any] = field(default_factory=dict)  # per tool: never/always

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunPlan:
        return cls(**{**data, "models": tuple(data["models"]), "tools": tuple(data["tools"])})
