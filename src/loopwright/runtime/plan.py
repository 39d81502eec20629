"""What a run executes with, fixed when it starts (so a replay sees the same configuration)."""

from __future__ import annotations

from dataclasses import dataclass


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
