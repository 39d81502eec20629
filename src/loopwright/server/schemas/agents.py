"""Agents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import MISSING, BeforeValidator, Field, StringConstraints

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


ToolApprovals = Annotated[
    dict[ToolName, ToolApproval],
    Field(
        max_length=100,
        description="per tool, over the agent's `approval` policy: `always` or `never`",
    ),
]


def _no_memory_yet(value: object) -> object:
    if value is True:
        raise ValueError("long-term memory is not available yet: memory must be false")
    return value


# Accepted once the feature exists (long-term memory); until then a request for it is refused,
# not stored as a setting that does nothing.
NoMemory = Annotated[Literal[False], BeforeValidator(_no_memory_yet)]


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
    memory: NoMemory = False
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
    memory: NoMemory | MISSING = MISSING
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
    mode: str
    executor_model: str | None
    executor_system_prompt: str
    status: str
    approval: str
    tool_approvals: dict[str, str]
    created_at: datetime
    updated_at: datetime
