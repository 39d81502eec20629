"""The built-in workspace tools: projects, tasks and documents of the agent's store, and the
agent's long-term memories.

These are contracts only (name, description, read-only flag, typed arguments); what each tool
does is in ``builtin_handlers``, acting on the store through a ``WorkspacePort``.
"""

from __future__ import annotations

from typing import Annotated, Final, Self

from pydantic import Field, StringConstraints, model_validator

from loopwright.domain.vocabulary import MemoryType, TaskStatus
from loopwright.tools.spec import ToolArgs, ToolSpec

MAX_NAME = 200
MAX_TITLE = 500
MAX_DESCRIPTION = 20_000
MAX_CONTENT = 200_000
MAX_QUERY = 200
MAX_LIST = 200
MAX_MEMORY = 4000

ProjectName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]
Content = Annotated[str, StringConstraints(max_length=MAX_CONTENT)]
Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ProjectRef = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)
]
Query = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUERY)]

_PROJECT_REF = "A project id (prj_...) or an exact project name (case does not matter)."


class _Update(ToolArgs):
    """An update must change something: every optional field left out is a useless call."""

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        fields = set(type(self).model_fields) - {"project_id", "task_id", "document_id"}
        if all(getattr(self, name) is None for name in fields):
            raise ValueError(f"give at least one of {', '.join(sorted(fields))} to change")
        return self


# -- projects -----------------------------------------------------------------------------------


class CreateProjectArgs(ToolArgs):
    name: ProjectName = Field(description="The project's name; unique in this workspace.")
    description: Description = Field("", description="What the project is about.")


class UpdateProjectArgs(_Update):
    project_id: Ident = Field(description="The id of the project to change (prj_...).")
    name: ProjectName | None = Field(None, description="A new name; leave out to keep it.")
    description: Description | None = Field(
        None, description="A new description (replaces the old one); leave out to keep it."
    )


class ListProjectsArgs(ToolArgs):
    limit: int = Field(50, ge=1, le=MAX_LIST, description="How many projects, newest first.")


class ReadProjectArgs(ToolArgs):
    project_id: Ident = Field(description="The id of the project to read (prj_...).")


class SearchProjectsArgs(ToolArgs):
    query: Query = Field(
        description="Text to find in project names and descriptions (case-insensitive)."
    )


# -- tasks --------------------------------------------------------------------------------------


class CreateTaskArgs(ToolArgs):
    title: Title = Field(description="A short title saying what is to be done.")
    project: ProjectRef | None = Field(
        None,
        description=_PROJECT_REF + " A name that does not exist yet creates that project. "
        "Leave out for a task outside any project.",
    )
    description: Description = Field("", description="Details, acceptance criteria, notes.")
    status: TaskStatus = Field("todo", description="The task's status to begin with.")


class UpdateTaskArgs(_Update):
    task_id: Ident = Field(description="The id of the task to change (tsk_...).")
    title: Title | None = Field(None, description="A new title; leave out to keep it.")
    description: Description | None = Field(
        None, description="A new description (replaces the old one); leave out to keep it."
    )
    status: TaskStatus | None = Field(None, description="A new status; leave out to keep it.")


class ListTasksArgs(ToolArgs):
    project: ProjectRef | None = Field(
        None, description=_PROJECT_REF + " Leave out for tasks of every project."
    )
    status: TaskStatus | None = Field(None, description="Only tasks with this status.")
    limit: int = Field(50, ge=1, le=MAX_LIST, description="How many tasks, newest first.")


class ReadTaskArgs(ToolArgs):
    task_id: Ident = Field(description="The id of the task to read (tsk_...).")


class SearchTasksArgs(ToolArgs):
    query: Query = Field(
        description="Text to find in task titles and descriptions (case-insensitive)."
    )


# -- documents ----------------------------------------------------------------------------------


class CreateDocumentArgs(ToolArgs):
    title: Title = Field(description="The document's title.")
    content: Content = Field("", description="The document's text (Markdown is fine).")
    project: ProjectRef | None = Field(
        None,
        description=_PROJECT_REF + " A name that does not exist yet creates that project. "
        "Leave out for a document outside any project.",
    )


class UpdateDocumentArgs(_Update):
    document_id: Ident = Field(description="The id of the document to change (doc_...).")
    title: Title | None = Field(None, description="A new title; leave out to keep it.")
    content: Content | None = Field(
        None, description="The new full text (replaces the old text); leave out to keep it."
    )


class ListDocumentsArgs(ToolArgs):
    project: ProjectRef | None = Field(
        None, description=_PROJECT_REF + " Leave out for documents of every project."
    )
    limit: int = Field(50, ge=1, le=MAX_LIST, description="How many documents, newest first.")


class ReadDocumentArgs(ToolArgs):
    document_id: Ident = Field(description="The id of the document to read (doc_...).")


class SearchDocumentsArgs(ToolArgs):
    query: Query = Field(
        description="Text to find in document titles and contents (case-insensitive)."
    )
    limit: int = Field(20, ge=1, le=100, description="How many documents at most.")


# -- long-term memory ---------------------------------------------------------------------------


class RememberArgs(ToolArgs):
    content: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MEMORY)
    ] = Field(description="What to remember, as one self-contained sentence.")
    type: MemoryType = Field(
        "fact",
        description="preference (how the user likes things), fact, instruction (a standing "
        "rule) or episodic (something that happened).",
    )
    importance: float = Field(0.5, ge=0, le=1, description="0 (trivial) to 1 (essential).")


class RecallArgs(ToolArgs):
    query: Query = Field(description="What to look for in this agent's long-term memories.")
    limit: int = Field(10, ge=1, le=50, description="How many memories at most, best first.")


_SPECS = (
    ToolSpec(
        "create_project",
        "Create a project in the workspace to group tasks and documents. "
        "Fails if a project with that name already exists.",
        read_only=False,
        args=CreateProjectArgs,
    ),
    ToolSpec(
        "update_project",
        "Rename a project or replace its description.",
        read_only=False,
        args=UpdateProjectArgs,
    ),
    ToolSpec(
        "list_projects",
        "List the workspace's projects, newest first, with their ids.",
        read_only=True,
        args=ListProjectsArgs,
    ),
    ToolSpec(
        "read_project",
        "Read one project with its tasks and documents (document texts are shortened; "
        "use read_document for a full text).",
        read_only=True,
        args=ReadProjectArgs,
    ),
    ToolSpec(
        "search_projects",
        "Find projects by words in their name or description (word forms match: "
        "'invoices' finds 'Invoice') or by a piece of text.",
        read_only=True,
        args=SearchProjectsArgs,
    ),
    ToolSpec(
        "create_task",
        "Create a task (todo, in_progress or done), optionally in a project given by id or "
        "name; a new project name creates the project.",
        read_only=False,
        args=CreateTaskArgs,
    ),
    ToolSpec(
        "update_task",
        "Change a task's title, description or status (todo, in_progress, done).",
        read_only=False,
        args=UpdateTaskArgs,
    ),
    ToolSpec(
        "list_tasks",
        "List tasks newest first, optionally only one project's or only one status.",
        read_only=True,
        args=ListTasksArgs,
    ),
    ToolSpec(
        "read_task",
        "Read one task in full, with the project it belongs to.",
        read_only=True,
        args=ReadTaskArgs,
    ),
    ToolSpec(
        "search_tasks",
        "Find tasks by words in their title or description (word forms match) or by a "
        "piece of text.",
        read_only=True,
        args=SearchTasksArgs,
    ),
    ToolSpec(
        "create_document",
        "Write a new document (notes, a spec, a report), optionally in a project given by id "
        "or name; a new project name creates the project.",
        read_only=False,
        args=CreateDocumentArgs,
    ),
    ToolSpec(
        "update_document",
        "Change a document's title or replace its whole text.",
        read_only=False,
        args=UpdateDocumentArgs,
    ),
    ToolSpec(
        "list_documents",
        "List documents newest first with a short excerpt of each, optionally only one "
        "project's; use read_document for a full text.",
        read_only=True,
        args=ListDocumentsArgs,
    ),
    ToolSpec(
        "read_document",
        "Read one document's full text.",
        read_only=True,
        args=ReadDocumentArgs,
    ),
    ToolSpec(
        "search_documents",
        "Find documents by words in their title or text (word forms match: 'invoices' "
        "finds 'Invoice March') or by a piece of text; each result shows the text around "
        "the first match.",
        read_only=True,
        args=SearchDocumentsArgs,
    ),
    ToolSpec(
        "remember",
        "Save something worth knowing in later conversations to your long-term memory (a "
        "preference, fact, instruction or event); an identical memory is not saved twice.",
        read_only=False,
        args=RememberArgs,
    ),
    ToolSpec(
        "recall",
        "Search your long-term memory; the most relevant, important and recent first.",
        read_only=True,
        args=RecallArgs,
    ),
)

BUILTIN_TOOLS: Final[dict[str, ToolSpec]] = {spec.name: spec for spec in _SPECS}
