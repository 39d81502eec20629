"""What the built-in workspace tools do: one handler per entry of ``BUILTIN_TOOLS``.

A handler acts in the session it is given (the caller owns the transaction and commits it with
the tool-call record) and returns a JSON-serialisable dict the model reads. A missing object
raises ``NotFound`` and a taken project name ``Conflict``; the caller turns them into an error
result for the model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos import workspace
from loopwright.db.tables import DocumentRow, ProjectRow, TaskRow
from loopwright.errors import LoopwrightError
from loopwright.events import log
from loopwright.tools import builtin as tools
from loopwright.tools.builtin import BUILTIN_TOOLS
from loopwright.tools.spec import ToolArgs

logger = logging.getLogger("loopwright.tools")

EXCERPT_CHARS = 200
SEARCH_LIMIT = 20
READ_PROJECT_LIMIT = 50


@dataclass(frozen=True)
class ToolContext:
    """Who is calling: the store acted in, and the run, session and agent to attribute it to."""

    store_id: str
    run_id: str | None
    session_id: str | None
    agent_id: str | None


Handler = Callable[[AsyncSession, ToolContext, ToolArgs], Awaitable[Any]]
A = TypeVar("A", bound=ToolArgs)
Result = dict[str, Any]
Impl = Callable[[AsyncSession, ToolContext, A], Awaitable[Result]]

HANDLERS: dict[str, Handler] = {}


def _handles(name: str, args_type: type[A]) -> Callable[[Impl[A]], Impl[A]]:
    """Register ``impl`` as the handler of tool ``name``, whose arguments are ``args_type``."""
    if BUILTIN_TOOLS[name].args is not args_type:
        raise TypeError(f"{name} takes {BUILTIN_TOOLS[name].args.__name__}")

    def register(impl: Impl[A]) -> Impl[A]:
        async def handler(session: AsyncSession, ctx: ToolContext, args: ToolArgs) -> Any:
            if not isinstance(args, args_type):
                raise TypeError(f"{name} takes {args_type.__name__}, not {type(args).__name__}")
            return await impl(session, ctx, args)

        HANDLERS[name] = handler
        return impl

    return register


# -- what the model sees ------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


def _project(row: ProjectRow) -> Result:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def _task(row: TaskRow) -> Result:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "status": row.status,
        "project_id": row.project_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def _document(row: DocumentRow) -> Result:
    return {
        "id": row.id,
        "title": row.title,
        "content": row.content,
        "project_id": row.project_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def excerpt(text: str, around: str | None = None) -> str:
    """About ``EXCERPT_CHARS`` of ``text``: its start, or the stretch around ``around``."""
    start = 0
    if around:
        found = text.lower().find(around.lower())
        if found > 0:
            start = max(0, found - EXCERPT_CHARS // 3)
    end = start + EXCERPT_CHARS
    shown = text[start:end]
    return ("…" if start > 0 else "") + shown + ("…" if end < len(text) else "")


def _document_summary(row: DocumentRow, around: str | None = None) -> Result:
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
    session: AsyncSession, ctx: ToolContext, ref: str | None, *, create: bool
) -> tuple[ProjectRow | None, bool]:
    if ref is None:
        return None, False
    return await workspace.resolve_project(
        session, ctx.store_id, ref, create=create, session_id=ctx.session_id, run_id=ctx.run_id
    )


async def _project_by_id(
    session: AsyncSession, ctx: ToolContext, project_id: str | None
) -> Result | None:
    if project_id is None:
        return None
    return _project(await workspace.get_project(session, ctx.store_id, project_id))


# -- projects -----------------------------------------------------------------------------------


@_handles("create_project", tools.CreateProjectArgs)
async def _create_project(
    session: AsyncSession, ctx: ToolContext, args: tools.CreateProjectArgs
) -> Result:
    row = await workspace.create_project(
        session,
        ctx.store_id,
        name=args.name,
        description=args.description,
        session_id=ctx.session_id,
        run_id=ctx.run_id,
    )
    return {"project": _project(row)}


@_handles("update_project", tools.UpdateProjectArgs)
async def _update_project(
    session: AsyncSession, ctx: ToolContext, args: tools.UpdateProjectArgs
) -> Result:
    changes = args.model_dump(exclude={"project_id"}, exclude_none=True)
    row = await workspace.update_project(
        session,
        ctx.store_id,
        args.project_id,
        changes,
        session_id=ctx.session_id,
        run_id=ctx.run_id,
    )
    return {"project": _project(row)}


@_handles("list_projects", tools.ListProjectsArgs)
async def _list_projects(
    session: AsyncSession, ctx: ToolContext, args: tools.ListProjectsArgs
) -> Result:
    page = await workspace.list_projects(session, ctx.store_id, limit=args.limit)
    items = [_project(row) for row in page.items]
    return {"projects": items, "count": len(items), "has_more": page.next_cursor is not None}


@_handles("read_project", tools.ReadProjectArgs)
async def _read_project(
    session: AsyncSession, ctx: ToolContext, args: tools.ReadProjectArgs
) -> Result:
    row = await workspace.get_project(session, ctx.store_id, args.project_id)
    tasks = await workspace.list_tasks(
        session, ctx.store_id, project_id=row.id, limit=READ_PROJECT_LIMIT
    )
    documents = await workspace.list_documents(
        session, ctx.store_id, project_id=row.id, limit=READ_PROJECT_LIMIT
    )
    return {
        "project": _project(row),
        "tasks": [_task(t) for t in tasks.items],
        "more_tasks": tasks.next_cursor is not None,
        "documents": [_document_summary(d) for d in documents.items],
        "more_documents": documents.next_cursor is not None,
    }


@_handles("search_projects", tools.SearchProjectsArgs)
async def _search_projects(
    session: AsyncSession, ctx: ToolContext, args: tools.SearchProjectsArgs
) -> Result:
    page = await workspace.list_projects(session, ctx.store_id, q=args.query, limit=SEARCH_LIMIT)
    items = [_project(row) for row in page.items]
    return {"projects": items, "count": len(items), "has_more": page.next_cursor is not None}


# -- tasks --------------------------------------------------------------------------------------


@_handles("create_task", tools.CreateTaskArgs)
async def _create_task(
    session: AsyncSession, ctx: ToolContext, args: tools.CreateTaskArgs
) -> Result:
    project, created = await _project_of(session, ctx, args.project, create=True)
    row = await workspace.create_task(
        session,
        ctx.store_id,
        title=args.title,
        description=args.description,
        status=args.status,
        project_id=project.id if project else None,
        session_id=ctx.session_id,
        run_id=ctx.run_id,
    )
    return {
        "task": _task(row),
        "project": _project(project) if project else None,
        "project_created": created,
    }


@_handles("update_task", tools.UpdateTaskArgs)
async def _update_task(
    session: AsyncSession, ctx: ToolContext, args: tools.UpdateTaskArgs
) -> Result:
    changes = args.model_dump(exclude={"task_id"}, exclude_none=True)
    row = await workspace.update_task(
        session, ctx.store_id, args.task_id, changes, session_id=ctx.session_id, run_id=ctx.run_id
    )
    return {"task": _task(row)}


@_handles("list_tasks", tools.ListTasksArgs)
async def _list_tasks(session: AsyncSession, ctx: ToolContext, args: tools.ListTasksArgs) -> Result:
    project, _ = await _project_of(session, ctx, args.project, create=False)
    page = await workspace.list_tasks(
        session,
        ctx.store_id,
        project_id=project.id if project else None,
        status=args.status,
        limit=args.limit,
    )
    items = [_task(row) for row in page.items]
    return {"tasks": items, "count": len(items), "has_more": page.next_cursor is not None}


@_handles("read_task", tools.ReadTaskArgs)
async def _read_task(session: AsyncSession, ctx: ToolContext, args: tools.ReadTaskArgs) -> Result:
    row = await workspace.get_task(session, ctx.store_id, args.task_id)
    return {"task": _task(row), "project": await _project_by_id(session, ctx, row.project_id)}


@_handles("search_tasks", tools.SearchTasksArgs)
async def _search_tasks(
    session: AsyncSession, ctx: ToolContext, args: tools.SearchTasksArgs
) -> Result:
    page = await workspace.list_tasks(session, ctx.store_id, q=args.query, limit=SEARCH_LIMIT)
    items = [_task(row) for row in page.items]
    return {"tasks": items, "count": len(items), "has_more": page.next_cursor is not None}


# -- documents ----------------------------------------------------------------------------------


@_handles("create_document", tools.CreateDocumentArgs)
async def _create_document(
    session: AsyncSession, ctx: ToolContext, args: tools.CreateDocumentArgs
) -> Result:
    project, created = await _project_of(session, ctx, args.project, create=True)
    row = await workspace.create_document(
        session,
        ctx.store_id,
        title=args.title,
        content=args.content,
        project_id=project.id if project else None,
        session_id=ctx.session_id,
        run_id=ctx.run_id,
    )
    return {
        "document": _document_summary(row),
        "project": _project(project) if project else None,
        "project_created": created,
    }


@_handles("update_document", tools.UpdateDocumentArgs)
async def _update_document(
    session: AsyncSession, ctx: ToolContext, args: tools.UpdateDocumentArgs
) -> Result:
    changes = args.model_dump(exclude={"document_id"}, exclude_none=True)
    row = await workspace.update_document(
        session,
        ctx.store_id,
        args.document_id,
        changes,
        session_id=ctx.session_id,
        run_id=ctx.run_id,
    )
    return {"document": _document_summary(row)}


@_handles("list_documents", tools.ListDocumentsArgs)
async def _list_documents(
    session: AsyncSession, ctx: ToolContext, args: tools.ListDocumentsArgs
) -> Result:
    project, _ = await _project_of(session, ctx, args.project, create=False)
    page = await workspace.list_documents(
        session, ctx.store_id, project_id=project.id if project else None, limit=args.limit
    )
    items = [_document_summary(row) for row in page.items]
    return {"documents": items, "count": len(items), "has_more": page.next_cursor is not None}


@_handles("read_document", tools.ReadDocumentArgs)
async def _read_document(
    session: AsyncSession, ctx: ToolContext, args: tools.ReadDocumentArgs
) -> Result:
    row = await workspace.get_document(session, ctx.store_id, args.document_id)
    return {
        "document": _document(row),
        "project": await _project_by_id(session, ctx, row.project_id),
    }


@_handles("search_documents", tools.SearchDocumentsArgs)
async def _search_documents(
    session: AsyncSession, ctx: ToolContext, args: tools.SearchDocumentsArgs
) -> Result:
    page = await workspace.list_documents(session, ctx.store_id, q=args.query, limit=args.limit)
    items = [_document_summary(row, around=args.query) for row in page.items]
    return {"documents": items, "count": len(items), "has_more": page.next_cursor is not None}


async def invoke(
    session: AsyncSession, context: ToolContext, name: str, args: ToolArgs, *, timeout_s: float
) -> tuple[bool, Any]:
    """Run one built-in handler in a savepoint: a failure leaves no partial writes and becomes
    an error result (what a model sees), never an exception."""
    try:
        async with log.savepoint(session), asyncio.timeout(timeout_s):
            content = await HANDLERS[name](session, context, args)
    except LoopwrightError as exc:
        return False, {"error": exc.message}
    except TimeoutError:
        return False, {"error": f"the tool did not finish within {timeout_s:g} s"}
    except Exception as exc:  # a tool that raises becomes an error result; the run goes on
        logger.exception("built-in tool %s raised", name)
        return False, {"error": f"{type(exc).__name__}: {exc}"}
    return True, to_jsonable_python(content)
