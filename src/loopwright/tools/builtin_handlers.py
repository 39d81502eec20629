"""What the built-in workspace tools do: one handler per entry of ``BUILTIN_TOOLS``.

A handler acts on its caller's store through a ``WorkspacePort`` (the caller owns the
transaction and commits it with the tool-call record) and returns a JSON-serialisable dict the
model reads. A missing object raises ``NotFound`` and a taken project name ``Conflict``;
``invoke`` turns every failure into an error result for the model.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic_core import to_jsonable_python

from loopwright.errors import LoopwrightError, NotFound
from loopwright.tools import builtin as tools
from loopwright.tools.builtin import BUILTIN_TOOLS
from loopwright.tools.spec import ToolArgs
from loopwright.tools.workspace_port import Document, Project, Task, WorkspacePort

logger = logging.getLogger("loopwright.tools")

EXCERPT_CHARS = 200
SEARCH_LIMIT = 20
READ_PROJECT_LIMIT = 50
_PROJECT_ID = re.compile(r"^prj_[0-9a-f]{24}$")

Handler = Callable[[WorkspacePort, ToolArgs], Awaitable[Any]]
A = TypeVar("A", bound=ToolArgs)
Result = dict[str, Any]
Impl = Callable[[WorkspacePort, A], Awaitable[Result]]

HANDLERS: dict[str, Handler] = {}


def _handles(name: str, args_type: type[A]) -> Callable[[Impl[A]], Impl[A]]:
    """Register ``impl`` as the handler of tool ``name``, whose arguments are ``args_type``."""
    if BUILTIN_TOOLS[name].args is not args_type:
        raise TypeError(f"{name} takes {BUILTIN_TOOLS[name].args.__name__}")

    def register(impl: Impl[A]) -> Impl[A]:
        async def handler(port: WorkspacePort, args: ToolArgs) -> Any:
            if not isinstance(args, args_type):
                raise TypeError(f"{name} takes {args_type.__name__}, not {type(args).__name__}")
            return await impl(port, args)

        HANDLERS[name] = handler
        return impl

    return register


# -- what the model sees ------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


def _project(row: Project) -> Result:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def _task(row: Task) -> Result:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "status": row.status,
        "project_id": row.project_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def _document(row: Document) -> Result:
    return {
        "id": row.id,
        "title": row.title,
        "content": row.content,
        "project_id": row.project_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def excerpt(text: str, around: str | None = None) -> str:
    """About ``EXCERPT_CHARS`` of ``text``: its start, or the stretch around ``around`` (or,
    as search matches word forms, around the first word of it with its ending cut off)."""
    start = 0
    if around:
        lowered = text.lower()
        found = lowered.find(around.lower())
        if found < 0:
            stems = [w[: max(3, len(w) - 2)] for w in re.findall(r"\w{3,}", around.lower())]
            hits = [i for i in (lowered.find(stem) for stem in stems) if i >= 0]
            found = min(hits, default=-1)
        if found > 0:
            start = max(0, found - EXCERPT_CHARS // 3)
    end = start + EXCERPT_CHARS
    shown = text[start:end]
    return ("…" if start > 0 else "") + shown + ("…" if end < len(text) else "")


def _document_summary(row: Document, around: str | None = None) -> Result:
    """A document without its full text: an excerpt and the text's length."""
    return {
        "id": row.id,
        "title": row.title,
        "project_id": row.project_id,
        "excerpt": excerpt(row.content, around),
        "chars": len(row.content),
        "updated_at": _iso(row.updated_at),
    }


async def _project_of(
    port: WorkspacePort, ref: str | None, *, create: bool
) -> tuple[Project | None, bool]:
    """The project ``ref`` names (by id or by name, ignoring case) and whether it was created.

    With ``create=True`` a new name creates the project; something shaped like a project id is
    never taken for a name. Otherwise a miss is NotFound."""
    if ref is None:
        return None, False
    ref = ref.strip()
    found = await port.find_project(ref)
    if found is not None:
        return found, False
    if not create or not ref or _PROJECT_ID.match(ref):
        raise NotFound.of("project", ref)
    return await port.create_project(name=ref, description=""), True


async def _project_by_id(port: WorkspacePort, project_id: str | None) -> Result | None:
    if project_id is None:
        return None
    return _project(await port.get_project(project_id))


# -- projects -----------------------------------------------------------------------------------


@_handles("create_project", tools.CreateProjectArgs)
async def _create_project(port: WorkspacePort, args: tools.CreateProjectArgs) -> Result:
    row = await port.create_project(name=args.name, description=args.description)
    return {"project": _project(row)}


@_handles("update_project", tools.UpdateProjectArgs)
async def _update_project(port: WorkspacePort, args: tools.UpdateProjectArgs) -> Result:
    changes = args.model_dump(exclude={"project_id"}, exclude_none=True)
    return {"project": _project(await port.update_project(args.project_id, changes))}


@_handles("list_projects", tools.ListProjectsArgs)
async def _list_projects(port: WorkspacePort, args: tools.ListProjectsArgs) -> Result:
    page = await port.list_projects(limit=args.limit)
    items = [_project(row) for row in page.items]
    return {"projects": items, "count": len(items), "has_more": page.next_cursor is not None}


@_handles("read_project", tools.ReadProjectArgs)
async def _read_project(port: WorkspacePort, args: tools.ReadProjectArgs) -> Result:
    row = await port.get_project(args.project_id)
    tasks = await port.list_tasks(project_id=row.id, limit=READ_PROJECT_LIMIT)
    documents = await port.list_documents(project_id=row.id, limit=READ_PROJECT_LIMIT)
    return {
        "project": _project(row),
        "tasks": [_task(t) for t in tasks.items],
        "more_tasks": tasks.next_cursor is not None,
        "documents": [_document_summary(d) for d in documents.items],
        "more_documents": documents.next_cursor is not None,
    }


@_handles("search_projects", tools.SearchProjectsArgs)
async def _search_projects(port: WorkspacePort, args: tools.SearchProjectsArgs) -> Result:
    page = await port.list_projects(q=args.query, limit=SEARCH_LIMIT)
    items = [_project(row) for row in page.items]
    return {"projects": items, "count": len(items), "has_more": page.next_cursor is not None}


# -- tasks --------------------------------------------------------------------------------------


@_handles("create_task", tools.CreateTaskArgs)
async def _create_task(port: WorkspacePort, args: tools.CreateTaskArgs) -> Result:
    project, created = await _project_of(port, args.project, create=True)
    row = await port.create_task(
        title=args.title,
        description=args.description,
        status=args.status,
        project_id=project.id if project else None,
    )
    return {
        "task": _task(row),
        "project": _project(project) if project else None,
        "project_created": created,
    }


@_handles("update_task", tools.UpdateTaskArgs)
async def _update_task(port: WorkspacePort, args: tools.UpdateTaskArgs) -> Result:
    changes = args.model_dump(exclude={"task_id"}, exclude_none=True)
    return {"task": _task(await port.update_task(args.task_id, changes))}


@_handles("list_tasks", tools.ListTasksArgs)
async def _list_tasks(port: WorkspacePort, args: tools.ListTasksArgs) -> Result:
    project, _ = await _project_of(port, args.project, create=False)
    page = await port.list_tasks(
        project_id=project.id if project else None, status=args.status, limit=args.limit
    )
    items = [_task(row) for row in page.items]
    return {"tasks": items, "count": len(items), "has_more": page.next_cursor is not None}


@_handles("read_task", tools.ReadTaskArgs)
async def _read_task(port: WorkspacePort, args: tools.ReadTaskArgs) -> Result:
    row = await port.get_task(args.task_id)
    return {"task": _task(row), "project": await _project_by_id(port, row.project_id)}


@_handles("search_tasks", tools.SearchTasksArgs)
async def _search_tasks(port: WorkspacePort, args: tools.SearchTasksArgs) -> Result:
    page = await port.list_tasks(q=args.query, limit=SEARCH_LIMIT)
    items = [_task(row) for row in page.items]
    return {"tasks": items, "count": len(items), "has_more": page.next_cursor is not None}


# -- documents ----------------------------------------------------------------------------------


@_handles("create_document", tools.CreateDocumentArgs)
async def _create_document(port: WorkspacePort, args: tools.CreateDocumentArgs) -> Result:
    project, created = await _project_of(port, args.project, create=True)
    row = await port.create_document(
        title=args.title, content=args.content, project_id=project.id if project else None
    )
    return {
        "document": _document_summary(row),
        "project": _project(project) if project else None,
        "project_created": created,
    }


@_handles("update_document", tools.UpdateDocumentArgs)
async def _update_document(port: WorkspacePort, args: tools.UpdateDocumentArgs) -> Result:
    changes = args.model_dump(exclude={"document_id"}, exclude_none=True)
    return {"document": _document_summary(await port.update_document(args.document_id, changes))}


@_handles("list_documents", tools.ListDocumentsArgs)
async def _list_documents(port: WorkspacePort, args: tools.ListDocumentsArgs) -> Result:
    project, _ = await _project_of(port, args.project, create=False)
    page = await port.list_documents(project_id=project.id if project else None, limit=args.limit)
    items = [_document_summary(row) for row in page.items]
    return {"documents": items, "count": len(items), "has_more": page.next_cursor is not None}


@_handles("read_document", tools.ReadDocumentArgs)
async def _read_document(port: WorkspacePort, args: tools.ReadDocumentArgs) -> Result:
    row = await port.get_document(args.document_id)
    return {"document": _document(row), "project": await _project_by_id(port, row.project_id)}


@_handles("search_documents", tools.SearchDocumentsArgs)
async def _search_documents(port: WorkspacePort, args: tools.SearchDocumentsArgs) -> Result:
    page = await port.list_documents(q=args.query, limit=args.limit)
    items = [_document_summary(row, around=args.query) for row in page.items]
    return {"documents": items, "count": len(items), "has_more": page.next_cursor is not None}


@_handles("remember", tools.RememberArgs)
async def _remember(port: WorkspacePort, args: tools.RememberArgs) -> Result:
    row, new = await port.remember(content=args.content, type=args.type, importance=args.importance)
    memory = {"id": row.id, "content": row.content, "type": row.type, "importance": row.importance}
    return {"memory": memory, "saved": new}


@_handles("recall", tools.RecallArgs)
async def _recall(port: WorkspacePort, args: tools.RecallArgs) -> Result:
    found = await port.recall(query=args.query, limit=args.limit)
    items = [
        {
            "id": m.id,
            "content": m.content,
            "type": m.type,
            "importance": m.importance,
            "score": round(m.score, 4),
        }
        for m in found
    ]
    return {"memories": items, "count": len(items)}


async def invoke(
    port: WorkspacePort, name: str, args: ToolArgs, *, timeout_s: float, read_only: bool = False
) -> tuple[bool, Any]:
    """Run one built-in handler atomically: a failure leaves no partial writes or events and
    becomes an error result (what a model sees), never an exception."""
    try:
        async with port.atomic(read_only=read_only), asyncio.timeout(timeout_s):
            content = await HANDLERS[name](port, args)
    except LoopwrightError as exc:
        return False, {"error": exc.message}
    except TimeoutError:
        return False, {"error": f"the tool did not finish within {timeout_s:g} s"}
    except Exception as exc:  # a tool that raises becomes an error result; the run goes on
        logger.exception("built-in tool %s raised", name)
        return False, {"error": f"{type(exc).__name__}: {exc}"}
    return True, to_jsonable_python(content)
