"""Agents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import MISSING, Field, StringConstraints

from loopwright.domain.store_settings import ApprovalPolicy, ToolApproval
from loopwright.domain.vocabulary import AgentMode, AgentStatus
from loopwright.server.schemas.common import Input, Output

AgentName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w .-]*$")
]
ModelName = Annotated[
    str, StringConstraints(min_length=3, max_length=200, pattern=r"^[a-z0-9][a-z0-9_-]*:\S+$")
]
ToolName = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_][\w.-]*$")
]


MemoryBudget = Annotated[
    int, Field(ge=0, le=20_000, description="tokens of long-term memories a run's context holds")
]
ReflectIdle = Annotated[
    int,
    Field(
        ge=10, le=30 * 86400, description="seconds of quiet after which a session is reflected on"
    ),
]
ToolApprovals = Annotated[
    dict[ToolName, ToolApproval],
    Field(
        max_length=100,
        description="per tool, over the agent's `approval` policy: `always` or `never`",
    ),
]


class AgentCreate(Input):
    name: AgentName
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    goal: Annotated[str, StringConstraints(max_length=4000)] = ""
    system_prompt: Annotated[str, StringConstraints(max_length=50_000)] = ""
    model: ModelName = "offline:default"
    fallback_models: Annotated[list[ModelName], Field(max_length=5)] = []
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_steps: Annotated[int, Field(ge=1, le=100)] = 15
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 300.0
    tools: Annotated[list[ToolName], Field(max_length=100)] = []
    memory: bool = False
    memory_budget_tokens: MemoryBudget = 500
    reflect_idle_s: ReflectIdle | None = None
    mode: AgentMode = "single"
    executor_model: ModelName | None = None
    executor_system_prompt: Annotated[str, StringConstraints(max_length=50_000)] = ""
    status: AgentStatus = "active"
    approval: ApprovalPolicy = "never"
    tool_approvals: ToolApprovals = {}


class AgentUpdate(Input):
    """A field left out is left as it is; only ``temperature`` (the model's own) and
    ``executor_model`` (the planner's) may be ``null``."""

    name: AgentName | MISSING = MISSING
    description: Annotated[str, StringConstraints(max_length=2000)] | MISSING = MISSING
    goal: Annotated[str, StringConstraints(max_length=4000)] | MISSING = MISSING
    system_prompt: Annotated[str, StringConstraints(max_length=50_000)] | MISSING = MISSING
    model: ModelName | MISSING = MISSING
    fallback_models: Annotated[list[ModelName], Field(max_length=5)] | MISSING = MISSING
    temperature: Annotated[float, Field(ge=0, le=2)] | MISSING | None = MISSING
    max_steps: Annotated[int, Field(ge=1, le=100)] | MISSING = MISSING
    timeout_s: Annotated[float, Field(gt=0, le=3600)] | MISSING = MISSING
    tools: Annotated[list[ToolName], Field(max_length=100)] | MISSING = MISSING
    memory: bool | MISSING = MISSING
    memory_budget_tokens: MemoryBudget | MISSING = MISSING
    reflect_idle_s: ReflectIdle | MISSING | None = MISSING
    mode: AgentMode | MISSING = MISSING
    executor_model: ModelName | MISSING | None = MISSING
    executor_system_prompt: Annotated[str, StringConstraints(max_length=50_000)] | MISSING = MISSING
    status: AgentStatus | MISSING = MISSING
    approval: ApprovalPolicy | MISSING = MISSING
    tool_approvals: ToolApprovals | MISSING = MISSING


class AgentPublic(Output):
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
    memory_budget_tokens: int
    reflect_idle_s: int | None
    mode: str
    executor_model: str | None
    executor_system_prompt: str
    status: str
    approval: str
    tool_approvals: dict[str, str]
    created_at: datetime
    updated_at: datetime
