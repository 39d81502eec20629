"""Payloads of the events about a store's resources: agents, sessions, and the workspace's
projects, tasks and documents (see ``event_payloads`` for the rules every payload follows).

A workspace event carries the resource's fields as they are after the change (before it, for
a deletion), so a reader can keep a copy without fetching it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loopwright.domain.event_payloads import EventPayload
from loopwright.domain.vocabulary import TaskStatus

AgentField = Literal[
    "name",
    "description",
    "goal",
    "system_prompt",
    "model",
    "fallback_models",
    "temperature",
    "max_steps",
    "timeout_s",
    "tools",
    "memory",
    "memory_budget_tokens",
    "reflect_idle_s",
    "mode",
    "executor_model",
    "executor_system_prompt",
    "approval",
    "tool_approvals",
    "status",
]


class AgentCreatedPayload(EventPayload):
    agent_id: str
    name: str


class AgentUpdatedPayload(EventPayload):
    agent_id: str
    fields: list[AgentField] = Field(description="the fields the request set")


class AgentDeletedPayload(EventPayload):
    agent_id: str


class SessionCreatedPayload(EventPayload):
    agent_id: str


class SessionUpdatedPayload(EventPayload):
    fields: list[Literal["title", "busy_policy"]] = Field(description="the fields the request set")


class SessionDeletedPayload(EventPayload):
    """The session and its messages are gone; its active runs are cancelled."""


# -- workspace ----------------------------------------------------------------------------------

ProjectField = Literal["name", "description"]
TaskField = Literal["project_id", "title", "description", "status"]
DocumentField = Literal["project_id", "title", "content"]


class ProjectFields(EventPayload):
    project_id: str
    name: str
    description: str


class ProjectCreatedPayload(ProjectFields):
    pass


class ProjectUpdatedPayload(ProjectFields):
    fields: list[ProjectField] = Field(min_length=1, description="the fields that changed")


class ProjectDeletedPayload(ProjectFields):
    """Its tasks and documents stay, with ``project_id`` set to null (no event of their own)."""


class TaskFields(EventPayload):
    task_id: str
    project_id: str | None
    title: str
    description: str
    status: TaskStatus


class TaskCreatedPayload(TaskFields):
    pass


class TaskUpdatedPayload(TaskFields):
    fields: list[TaskField] = Field(min_length=1, description="the fields that changed")


class TaskDeletedPayload(TaskFields):
    pass


class DocumentFields(EventPayload):
    document_id: str
    project_id: str | None
    title: str
    content: str


class DocumentCreatedPayload(DocumentFields):
    pass


class DocumentUpdatedPayload(DocumentFields):
    fields: list[DocumentField] = Field(min_length=1, description="the fields that changed")


class DocumentDeletedPayload(DocumentFields):
    pass
