"""Projects, tasks and documents of one store: their rows only.

A change's domain event (``project.created``, ``task.updated``, ...) is appended by the caller
in the same transaction (``runtime/workspace.py``), so these functions return what the event
says: the row, the names of the fields an update changed, a deleted row's fields.

Project names are unique per store, compared case-insensitively, because a task or document
may name its project instead of giving its id (see ``find_project``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.attributes import set_committed_value

from loopwright.db.database import send_held_before_savepoint
from loopwright.db.fulltext import TextMatch, plain_words
from loopwright.db.repos.paging import Page, newest_first
from loopwright.db.tables import DocumentRow, ProjectRow, TaskRow
from loopwright.errors import Conflict, NotFound
from loopwright.ids import new_id

PROJECT_FIELDS = ("name", "description")
TASK_FIELDS = ("project_id", "title", "description", "status")
DOCUMENT_FIELDS = ("project_id", "title", "content")


# -- shared helpers -----------------------------------------------------------------------------


def project_fields(row: ProjectRow) -> dict[str, Any]:
    return {"id": row.id, **{name: getattr(row, name) for name in PROJECT_FIELDS}}


def task_fields(row: TaskRow) -> dict[str, Any]:
    return {"id": row.id, **{name: getattr(row, name) for name in TASK_FIELDS}}


def document_fields(row: DocumentRow) -> dict[str, Any]:
    return {"id": row.id, **{name: getattr(row, name) for name in DOCUMENT_FIELDS}}


def contains(columns: tuple[InstrumentedAttribute[str], ...], q: str) -> ColumnElement[bool]:
    """Case-insensitive substring match over ``columns``; ``%``, ``_`` and ``\\`` in ``q`` are
    literal. ``ilike`` is ``ILIKE`` on PostgreSQL and ``lower(x) LIKE lower(y)`` on SQLite."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def search(
    table: str, columns: tuple[InstrumentedAttribute[str], ...], q: str
) -> ColumnElement[bool]:
    """A search box's match: ``q`` as a substring (a word's start, "50%", "0_0"), or, when
    ``q`` is only words, every word stemmed ("invoices" finds "Invoice March",
    ``db/fulltext.py``)."""
    if not plain_words(q):
        return contains(columns, q)
    return or_(TextMatch(table, q), contains(columns, q))


def _changed(row: object, changes: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"cannot change {sorted(unknown)}")
    return {k: v for k, v in changes.items() if getattr(row, k) != v}


def _apply(row: object, changed: Mapping[str, Any]) -> list[str]:
    for field, value in changed.items():
        setattr(row, field, value)
    return sorted(changed)


# -- projects -----------------------------------------------------------------------------------


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a project named {name!r} already exists", details={"field": "name"})


async def find_project_by_name(
    session: AsyncSession, store_id: str, name: str
) -> ProjectRow | None:
    """The project whose name equals ``name`` ignoring case, if any."""
    return await session.scalar(
        select(ProjectRow)
        .where(ProjectRow.store_id == store_id, func.lower(ProjectRow.name) == func.lower(name))
        .order_by(ProjectRow.id)
        .limit(1)
    )


async def find_project(session: AsyncSession, store_id: str, ref: str) -> ProjectRow | None:
    """The project ``ref`` names: by id, else by name ignoring case."""
    row = await session.scalar(
        select(ProjectRow).where(ProjectRow.store_id == store_id, ProjectRow.id == ref)
    )
    if row is None and ref:
        row = await find_project_by_name(session, store_id, ref)
    return row


async def _flush_unique_name(session: AsyncSession, row: ProjectRow) -> None:
    """Flush in a savepoint so a lost race on the unique name leaves the caller's transaction
    usable (a tool's caller records the error and carries on)."""
    await send_held_before_savepoint(session)  # what came before: its errors are not ours
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise _name_taken(row.name) from exc


async def create_project(
    session: AsyncSession, store_id: str, *, name: str, description: str = ""
) -> ProjectRow:
    if await find_project_by_name(session, store_id, name) is not None:
        raise _name_taken(name)
    row = ProjectRow(id=new_id("prj"), store_id=store_id, name=name, description=description)
    await _flush_unique_name(session, row)
    return row


async def get_project(session: AsyncSession, store_id: str, project_id: str) -> ProjectRow:
    row = await session.scalar(
        select(ProjectRow).where(ProjectRow.store_id == store_id, ProjectRow.id == project_id)
    )
    if row is None:
        raise NotFound.of("project", project_id)
    return row


async def list_projects(
    session: AsyncSession,
    store_id: str,
    *,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ProjectRow]:
    query = select(ProjectRow).where(ProjectRow.store_id == store_id)
    if q:
        query = query.where(search("projects", (ProjectRow.name, ProjectRow.description), q))
    return await newest_first(session, query, ProjectRow.id, limit=limit, cursor=cursor)


async def update_project(
    session: AsyncSession, store_id: str, project_id: str, changes: Mapping[str, Any]
) -> tuple[ProjectRow, list[str]]:
    """The project and the names of the fields that changed (none: nothing was written)."""
    row = await get_project(session, store_id, project_id)
    changed = _changed(row, changes, PROJECT_FIELDS)
    if not changed:
        return row, []
    new_name = changed.get("name")
    if new_name is not None:
        other = await find_project_by_name(session, store_id, new_name)
        if other is not None and other.id != row.id:
            raise _name_taken(new_name)
    fields = _apply(row, changed)
    await _flush_unique_name(session, row)
    return row, fields


async def delete_project(session: AsyncSession, store_id: str, project_id: str) -> dict[str, Any]:
    """Delete the project and return its fields. Its tasks and documents stay, detached: the
    database sets their ``project_id`` to null (the project's deletion is the one change)."""
    row = await get_project(session, store_id, project_id)
    fields = project_fields(row)
    await session.delete(row)
    await session.flush()
    for obj in list(session.identity_map.values()):  # what this session already loaded
        if isinstance(obj, TaskRow | DocumentRow) and obj.project_id == project_id:
            set_committed_value(obj, "project_id", None)
    return fields


# -- tasks --------------------------------------------------------------------------------------


async def create_task(
    session: AsyncSession,
    store_id: str,
    *,
    title: str,
    description: str = "",
    status: str = "todo",
    project_id: str | None = None,
) -> TaskRow:
    if project_id is not None:
        await get_project(session, store_id, project_id)
    row = TaskRow(
        id=new_id("tsk"),
        store_id=store_id,
        project_id=project_id,
        title=title,
        description=description,
        status=status,
    )
    session.add(row)
    await session.flush()
    return row


async def get_task(session: AsyncSession, store_id: str, task_id: str) -> TaskRow:
    row = await session.scalar(
        select(TaskRow).where(TaskRow.store_id == store_id, TaskRow.id == task_id)
    )
    if row is None:
        raise NotFound.of("task", task_id)
    return row


async def list_tasks(
    session: AsyncSession,
    store_id: str,
    *,
    project_id: str | None = None,
    status: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[TaskRow]:
    query = select(TaskRow).where(TaskRow.store_id == store_id)
    if project_id:
        query = query.where(TaskRow.project_id == project_id)
    if status:
        query = query.where(TaskRow.status == status)
    if q:
        query = query.where(search("tasks", (TaskRow.title, TaskRow.description), q))
    return await newest_first(session, query, TaskRow.id, limit=limit, cursor=cursor)


async def update_task(
    session: AsyncSession, store_id: str, task_id: str, changes: Mapping[str, Any]
) -> tuple[TaskRow, list[str]]:
    """The task and the names of the fields that changed (none: nothing was written)."""
    row = await get_task(session, store_id, task_id)
    changed = _changed(row, changes, TASK_FIELDS)
    if not changed:
        return row, []
    if changed.get("project_id") is not None:
        await get_project(session, store_id, changed["project_id"])
    fields = _apply(row, changed)
    await session.flush()
    return row, fields


async def delete_task(session: AsyncSession, store_id: str, task_id: str) -> dict[str, Any]:
    """Delete the task and return its fields."""
    row = await get_task(session, store_id, task_id)
    fields = task_fields(row)
    await session.delete(row)
    await session.flush()
    return fields


# -- documents ----------------------------------------------------------------------------------


async def create_document(
    session: AsyncSession,
    store_id: str,
    *,
    title: str,
    content: str = "",
    project_id: str | None = None,
) -> DocumentRow:
    if project_id is not None:
        await get_project(session, store_id, project_id)
    row = DocumentRow(
        id=new_id("doc"), store_id=store_id, project_id=project_id, title=title, content=content
    )
    session.add(row)
    await session.flush()
    return row


async def get_document(session: AsyncSession, store_id: str, document_id: str) -> DocumentRow:
    row = await session.scalar(
        select(DocumentRow).where(DocumentRow.store_id == store_id, DocumentRow.id == document_id)
    )
    if row is None:
        raise NotFound.of("document", document_id)
    return row


async def list_documents(
    session: AsyncSession,
    store_id: str,
    *,
    project_id: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[DocumentRow]:
    query = select(DocumentRow).where(DocumentRow.store_id == store_id)
    if project_id:
        query = query.where(DocumentRow.project_id == project_id)
    if q:
        query = query.where(search("documents", (DocumentRow.title, DocumentRow.content), q))
    return await newest_first(session, query, DocumentRow.id, limit=limit, cursor=cursor)


async def update_document(
    session: AsyncSession, store_id: str, document_id: str, changes: Mapping[str, Any]
) -> tuple[DocumentRow, list[str]]:
    """The document and the names of the fields that changed (none: nothing was written)."""
    row = await get_document(session, store_id, document_id)
    changed = _changed(row, changes, DOCUMENT_FIELDS)
    if not changed:
        return row, []
    if changed.get("project_id") is not None:
        await get_project(session, store_id, changed["project_id"])
    fields = _apply(row, changed)
    await session.flush()
    return row, fields


async def delete_document(session: AsyncSession, store_id: str, document_id: str) -> dict[str, Any]:
    """Delete the document and return its fields."""
    row = await get_document(session, store_id, document_id)
    fields = document_fields(row)
    await session.delete(row)
    await session.flush()
    return fields
