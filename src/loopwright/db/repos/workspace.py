"""Projects, tasks and documents of one store.

Every change appends its domain event (``project.created``, ``task.updated``, ...) in the
caller's transaction, so the tables and the event log never disagree. Callers acting for a run
(the built-in tools) pass its ``session_id``/``run_id`` so the event is attributed to it.

Project names are unique per store, compared case-insensitively, because a task or document
may name its project instead of giving its id (see ``resolve_project``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.attributes import set_committed_value

from loopwright.db.repos.paging import Page, newest_first
from loopwright.db.tables import DocumentRow, ProjectRow, TaskRow
from loopwright.domain.events import EventType, NewEvent
from loopwright.errors import Conflict, NotFound
from loopwright.events import log
from loopwright.ids import new_id

PROJECT_FIELDS = ("name", "description")
TASK_FIELDS = ("project_id", "title", "description", "status")
DOCUMENT_FIELDS = ("project_id", "title", "content")

_PROJECT_ID = re.compile(r"^prj_[0-9a-f]{24}$")


# -- shared helpers -----------------------------------------------------------------------------


def project_fields(row: ProjectRow) -> dict[str, Any]:
    return {"id": row.id, **{name: getattr(row, name) for name in PROJECT_FIELDS}}


def task_fields(row: TaskRow) -> dict[str, Any]:
    return {"id": row.id, **{name: getattr(row, name) for name in TASK_FIELDS}}


def document_fields(row: DocumentRow) -> dict[str, Any]:
    return {"id": row.id, **{name: getattr(row, name) for name in DOCUMENT_FIELDS}}


async def _emit(
    session: AsyncSession,
    store_id: str,
    type_: EventType,
    payload: dict[str, Any],
    *,
    session_id: str | None,
    run_id: str | None,
) -> None:
    await log.append(
        session, store_id, [NewEvent(type_, payload, session_id=session_id, run_id=run_id)]
    )


def _event_payload(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``{"task_id": ..., "title": ..., ...}``: the id under its kind's name, then the fields."""
    rest = {k: v for k, v in fields.items() if k != "id"}
    return {f"{kind}_id": fields["id"], **rest}


def contains(columns: tuple[InstrumentedAttribute[str], ...], q: str) -> ColumnElement[bool]:
    """Case-insensitive substring match over ``columns``; ``%``, ``_`` and ``\\`` in ``q`` are
    literal. ``ilike`` is ``ILIKE`` on PostgreSQL and ``lower(x) LIKE lower(y)`` on SQLite."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def _changed(row: object, changes: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"cannot change {sorted(unknown)}")
    return {k: v for k, v in changes.items() if getattr(row, k) != v}


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


async def _flush_unique_name(session: AsyncSession, row: ProjectRow) -> None:
    """Flush in a savepoint so a lost race on the unique name leaves the caller's transaction
    usable (a tool's caller records the error and carries on)."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise _name_taken(row.name) from exc


async def create_project(
    session: AsyncSession,
    store_id: str,
    *,
    name: str,
    description: str = "",
    session_id: str | None = None,
    run_id: str | None = None,
) -> ProjectRow:
    if await find_project_by_name(session, store_id, name) is not None:
        raise _name_taken(name)
    row = ProjectRow(id=new_id("prj"), store_id=store_id, name=name, description=description)
    await _flush_unique_name(session, row)
    await _emit(
        session,
        store_id,
        "project.created",
        _event_payload("project", project_fields(row)),
        session_id=session_id,
        run_id=run_id,
    )
    return row


async def get_project(session: AsyncSession, store_id: str, project_id: str) -> ProjectRow:
    row = await session.scalar(
        select(ProjectRow).where(ProjectRow.store_id == store_id, ProjectRow.id == project_id)
    )
    if row is None:
        raise NotFound.of("project", project_id)
    return row


async def resolve_project(
    session: AsyncSession,
    store_id: str,
    ref: str,
    *,
    create: bool,
    session_id: str | None = None,
    run_id: str | None = None,
) -> tuple[ProjectRow, bool]:
    """The project ``ref`` names, by id or by name (ignoring case), and whether it was created.

    With ``create=True`` a new name creates the project (and its ``project.created`` event);
    something shaped like a project id is never taken for a name. Otherwise a miss is NotFound.
    """
    ref = ref.strip()
    row = await session.scalar(
        select(ProjectRow).where(ProjectRow.store_id == store_id, ProjectRow.id == ref)
    )
    if row is None and ref:
        row = await find_project_by_name(session, store_id, ref)
    if row is not None:
        return row, False
    if not create or not ref or _PROJECT_ID.match(ref):
        raise NotFound.of("project", ref)
    created = await create_project(
        session, store_id, name=ref, session_id=session_id, run_id=run_id
    )
    return created, True


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
        query = query.where(contains((ProjectRow.name, ProjectRow.description), q))
    return await newest_first(session, query, ProjectRow.id, limit=limit, cursor=cursor)


async def update_project(
    session: AsyncSession,
    store_id: str,
    project_id: str,
    changes: Mapping[str, Any],
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> ProjectRow:
    row = await get_project(session, store_id, project_id)
    changed = _changed(row, changes, PROJECT_FIELDS)
    if not changed:
        return row
    new_name = changed.get("name")
    if new_name is not None:
        other = await find_project_by_name(session, store_id, new_name)
        if other is not None and other.id != row.id:
            raise _name_taken(new_name)
    for field, value in changed.items():
        setattr(row, field, value)
    await _flush_unique_name(session, row)
    payload = {**_event_payload("project", project_fields(row)), "fields": sorted(changed)}
    await _emit(session, store_id, "project.updated", payload, session_id=session_id, run_id=run_id)
    return row


async def delete_project(
    session: AsyncSession,
    store_id: str,
    project_id: str,
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> None:
    """Delete the project. Its tasks and documents stay, detached: the database sets their
    ``project_id`` to null, and ``project.deleted`` is the one event that says so."""
    row = await get_project(session, store_id, project_id)
    payload = _event_payload("project", project_fields(row))
    await session.delete(row)
    await session.flush()
    for obj in list(session.identity_map.values()):  # what this session already loaded
        if isinstance(obj, TaskRow | DocumentRow) and obj.project_id == project_id:
            set_committed_value(obj, "project_id", None)
    await _emit(session, store_id, "project.deleted", payload, session_id=session_id, run_id=run_id)


# -- tasks --------------------------------------------------------------------------------------


async def create_task(
    session: AsyncSession,
    store_id: str,
    *,
    title: str,
    description: str = "",
    status: str = "todo",
    project_id: str | None = None,
    session_id: str | None = None,
    run_id: str | None = None,
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
    await _emit(
        session,
        store_id,
        "task.created",
        _event_payload("task", task_fields(row)),
        session_id=session_id,
        run_id=run_id,
    )
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
        query = query.where(contains((TaskRow.title, TaskRow.description), q))
    return await newest_first(session, query, TaskRow.id, limit=limit, cursor=cursor)


async def update_task(
    session: AsyncSession,
    store_id: str,
    task_id: str,
    changes: Mapping[str, Any],
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> TaskRow:
    row = await get_task(session, store_id, task_id)
    changed = _changed(row, changes, TASK_FIELDS)
    if not changed:
        return row
    if changed.get("project_id") is not None:
        await get_project(session, store_id, changed["project_id"])
    for field, value in changed.items():
        setattr(row, field, value)
    await session.flush()
    payload = {**_event_payload("task", task_fields(row)), "fields": sorted(changed)}
    await _emit(session, store_id, "task.updated", payload, session_id=session_id, run_id=run_id)
    return row


async def delete_task(
    session: AsyncSession,
    store_id: str,
    task_id: str,
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> None:
    row = await get_task(session, store_id, task_id)
    payload = _event_payload("task", task_fields(row))
    await session.delete(row)
    await session.flush()
    await _emit(session, store_id, "task.deleted", payload, session_id=session_id, run_id=run_id)


# -- documents ----------------------------------------------------------------------------------


async def create_document(
    session: AsyncSession,
    store_id: str,
    *,
    title: str,
    content: str = "",
    project_id: str | None = None,
    session_id: str | None = None,
    run_id: str | None = None,
) -> DocumentRow:
    if project_id is not None:
        await get_project(session, store_id, project_id)
    row = DocumentRow(
        id=new_id("doc"), store_id=store_id, project_id=project_id, title=title, content=content
    )
    session.add(row)
    await session.flush()
    await _emit(
        session,
        store_id,
        "document.created",
        _event_payload("document", document_fields(row)),
        session_id=session_id,
        run_id=run_id,
    )
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
        query = query.where(contains((DocumentRow.title, DocumentRow.content), q))
    return await newest_first(session, query, DocumentRow.id, limit=limit, cursor=cursor)


async def update_document(
    session: AsyncSession,
    store_id: str,
    document_id: str,
    changes: Mapping[str, Any],
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> DocumentRow:
    row = await get_document(session, store_id, document_id)
    changed = _changed(row, changes, DOCUMENT_FIELDS)
    if not changed:
        return row
    if changed.get("project_id") is not None:
        await get_project(session, store_id, changed["project_id"])
    for field, value in changed.items():
        setattr(row, field, value)
    await session.flush()
    payload = {**_event_payload("document", document_fields(row)), "fields": sorted(changed)}
    await _emit(
        session, store_id, "document.updated", payload, session_id=session_id, run_id=run_id
    )
    return row


async def delete_document(
    session: AsyncSession,
    store_id: str,
    document_id: str,
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> None:
    row = await get_document(session, store_id, document_id)
    payload = _event_payload("document", document_fields(row))
    await session.delete(row)
    await session.flush()
    await _emit(
        session, store_id, "document.deleted", payload, session_id=session_id, run_id=run_id
    )
