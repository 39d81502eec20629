"""Projects, tasks and documents (the limits match the built-in tools')."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import MISSING, AfterValidator, StringConstraints

from loopwright.domain.vocabulary import TaskStatus
from loopwright.server.schemas.common import Input, Output
from loopwright.tools.builtin import MAX_CONTENT, MAX_DESCRIPTION, MAX_NAME, MAX_TITLE

ProjectName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]
Content = Annotated[str, StringConstraints(max_length=MAX_CONTENT)]
ProjectId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _utc(value: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_utc)]


class ProjectCreate(Input):
    name: ProjectName
    description: Description = ""


class ProjectUpdate(Input):
    name: ProjectName | MISSING = MISSING
    description: Description | MISSING = MISSING


class ProjectPublic(Output):
    id: str
    name: str
    description: str
    created_at: Timestamp
    updated_at: Timestamp


class TaskCreate(Input):
    title: Title
    description: Description = ""
    status: TaskStatus = "todo"
    project_id: ProjectId | None = None


class TaskUpdate(Input):
    """``project_id: null`` takes the task out of its project."""

    title: Title | MISSING = MISSING
    description: Description | MISSING = MISSING
    status: TaskStatus | MISSING = MISSING
    project_id: ProjectId | MISSING | None = MISSING


class TaskPublic(Output):
    id: str
    project_id: str | None
    title: str
    description: str
    status: str
    created_at: Timestamp
    updated_at: Timestamp


class DocumentCreate(Input):
    title: Title
    content: Content = ""
    project_id: ProjectId | None = None


class DocumentUpdate(Input):
    """``project_id: null`` takes the document out of its project."""

    title: Title | MISSING = MISSING
    content: Content | MISSING = MISSING
    project_id: ProjectId | MISSING | None = MISSING


class DocumentPublic(Output):
    id: str
    project_id: str | None
    title: str
    content: str
    created_at: Timestamp
    updated_at: Timestamp
