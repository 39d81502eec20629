"""Changes to a store's projects, tasks and documents, each with its domain event.

``db/repos/workspace.py`` writes the rows; every change here also appends its event
(``project.created``, ``task.updated``, ...) in the caller's transaction, so the tables and the
event log never disagree. A change made for a run (a built-in tool) is attributed to its
session and run. ``SessionWorkspace`` is the ``WorkspacePort`` the built-in tools act through.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.database import failures_spoil_transaction
from loopwright.db.repos import memories, workspace
from loopwright.db.repos.paging import Page
from loopwright.db.tables import DocumentRow, MemoryRow, ProjectRow, TaskRow
from loopwright.domain.events import EventType, NewEvent
from loopwright.errors import BadRequest
from loopwright.events import log
from loopwright.runtime import memory
from loopwright.tools.workspace_port import Recalled, ToolContext


async def _emit(
    session: AsyncSession,
    store_id: str,
    type_: EventType,
    kind: str,
    fields: dict[str, Any],
    *,
    changed: list[str] | None = None,
    session_id: str | None,
    run_id: str | None,
) -> None:
    """``{"task_id": ..., "title": ..., ...}``: the id under its kind's name, then the fields,
    then (for an update) the names of the fields that changed."""
    payload = {f"{kind}_id": fields["id"], **{k: v for k, v in fields.items() if k != "id"}}
    if changed is not None:
        payload["fields"] = changed
    event = NewEvent(type_, payload, session_id=session_id, run_id=run_id)
    await log.append(session, store_id, [event])


# -- projects -----------------------------------------------------------------------------------


async def create_project(
    session: AsyncSession,
    store_id: str,
    *,
    name: str,
    description: str = "",
    session_id: str | None = None,
    run_id: str | None = None,
) -> ProjectRow:
    row = await workspace.create_project(session, store_id, name=name, description=description)
    fields = workspace.project_fields(row)
    await _emit(
        session,
        store_id,
        "project.created",
        "project",
        fields,
        session_id=session_id,
        run_id=run_id,
    )
    return row


async def update_project(
    session: AsyncSession,
    store_id: str,
    project_id: str,
    changes: Mapping[str, Any],
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> ProjectRow:
    row, changed = await workspace.update_project(session, store_id, project_id, changes)
    if changed:
        fields = workspace.project_fields(row)
        await _emit(
            session,
            store_id,
            "project.updated",
            "project",
            fields,
            changed=changed,
            session_id=session_id,
            run_id=run_id,
        )
    return row


async def delete_project(
    session: AsyncSession,
    store_id: str,
    project_id: str,
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> None:
    """Its tasks and documents stay, detached; ``project.deleted`` is the one event."""
    fields = await workspace.delete_project(session, store_id, project_id)
    await _emit(
        session,
        store_id,
        "project.deleted",
        "project",
        fields,
        session_id=session_id,
        run_id=run_id,
    )


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
    row = await workspace.create_task(
        session,
        store_id,
        title=title,
        description=description,
        status=status,
        project_id=project_id,
    )
    fields = workspace.task_fields(row)
    await _emit(
        session, store_id, "task.created", "task", fields, session_id=session_id, run_id=run_id
    )
    return row


async def update_task(
    session: AsyncSession,
    store_id: str,
    task_id: str,
    changes: Mapping[str, Any],
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> TaskRow:
    row, changed = await workspace.update_task(session, store_id, task_id, changes)
    if changed:
        fields = workspace.task_fields(row)
        await _emit(
            session,
            store_id,
            "task.updated",
            "task",
            fields,
            changed=changed,
            session_id=session_id,
            run_id=run_id,
        )
    return row


async def delete_task(
    session: AsyncSession,
    store_id: str,
    task_id: str,
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> None:
    fields = await workspace.delete_task(session, store_id, task_id)
    await _emit(
        session, store_id, "task.deleted", "task", fields, session_id=session_id, run_id=run_id
    )


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
    row = await workspace.create_document(
        session, store_id, title=title, content=content, project_id=project_id
    )
    fields = workspace.document_fields(row)
    await _emit(
        session,
        store_id,
        "document.created",
        "document",
        fields,
        session_id=session_id,
        run_id=run_id,
    )
    return row


async def update_document(
    session: AsyncSession,
    store_id: str,
    document_id: str,
    changes: Mapping[str, Any],
    *,
    session_id: str | None = None,
    run_id: str | None = None,
) -> DocumentRow:
    row, changed = await workspace.update_document(session, store_id, document_id, changes)
    if changed:
        fields = workspace.document_fields(row)
        await _emit(
            session,
            store_id,
            "document.updated",
            "document",
            fields,
            changed=changed,
            session_id=session_id,
            run_id=run_id,
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
    fields = await workspace.delete_document(session, store_id, document_id)
    await _emit(
        session,
        store_id,
        "document.deleted",
        "document",
        fields,
        session_id=session_id,
        run_id=run_id,
    )


# -- the built-in tools' port -------------------------------------------------------------------


class SessionWorkspace:
    """The ``WorkspacePort`` of one caller (``ctx``) inside the transaction ``session``."""

    def __init__(self, session: AsyncSession, ctx: ToolContext) -> None:
        self._session = session
        self._store_id = ctx.store_id
        self._session_id = ctx.session_id
        self._run_id = ctx.run_id
        self._agent_id = ctx.agent_id

    def atomic(self, *, read_only: bool = False) -> AbstractAsyncContextManager[None]:
        if read_only and not failures_spoil_transaction(self._session):
            # a read-only tool wrote nothing to take back; on SQLite its failure leaves the
            # transaction usable, so no savepoint (two statements and SQLAlchemy's nested
            # transaction per call); on PostgreSQL any error spoils it, so reads get one too
            return nullcontext()
        return log.savepoint(self._session)

    async def find_project(self, ref: str) -> ProjectRow | None:
        return await workspace.find_project(self._session, self._store_id, ref)

    async def get_project(self, project_id: str) -> ProjectRow:
        return await workspace.get_project(self._session, self._store_id, project_id)

    async def create_project(self, *, name: str, description: str) -> ProjectRow:
        return await create_project(
            self._session,
            self._store_id,
            name=name,
            description=description,
            session_id=self._session_id,
            run_id=self._run_id,
        )

    async def update_project(self, project_id: str, changes: Mapping[str, Any]) -> ProjectRow:
        return await update_project(
            self._session,
            self._store_id,
            project_id,
            changes,
            session_id=self._session_id,
            run_id=self._run_id,
        )

    async def list_projects(self, *, q: str | None = None, limit: int) -> Page[ProjectRow]:
        return await workspace.list_projects(self._session, self._store_id, q=q, limit=limit)

    async def get_task(self, task_id: str) -> TaskRow:
        return await workspace.get_task(self._session, self._store_id, task_id)

    async def create_task(
        self, *, title: str, description: str, status: str, project_id: str | None
    ) -> TaskRow:
        return await create_task(
            self._session,
            self._store_id,
            title=title,
            description=description,
            status=status,
            project_id=project_id,
            session_id=self._session_id,
            run_id=self._run_id,
        )

    async def update_task(self, task_id: str, changes: Mapping[str, Any]) -> TaskRow:
        return await update_task(
            self._session,
            self._store_id,
            task_id,
            changes,
            session_id=self._session_id,
            run_id=self._run_id,
        )

    async def list_tasks(
        self,
        *,
        project_id: str | None = None,
        status: str | None = None,
        q: str | None = None,
        limit: int,
    ) -> Page[TaskRow]:
        return await workspace.list_tasks(
            self._session, self._store_id, project_id=project_id, status=status, q=q, limit=limit
        )

    async def get_document(self, document_id: str) -> DocumentRow:
        return await workspace.get_document(self._session, self._store_id, document_id)

    async def create_document(
        self, *, title: str, content: str, project_id: str | None
    ) -> DocumentRow:
        return await create_document(
            self._session,
            self._store_id,
            title=title,
            content=content,
            project_id=project_id,
            session_id=self._session_id,
            run_id=self._run_id,
        )

    async def update_document(self, document_id: str, changes: Mapping[str, Any]) -> DocumentRow:
        return await update_document(
            self._session,
            self._store_id,
            document_id,
            changes,
            session_id=self._session_id,
            run_id=self._run_id,
        )

    async def list_documents(
        self, *, project_id: str | None = None, q: str | None = None, limit: int
    ) -> Page[DocumentRow]:
        return await workspace.list_documents(
            self._session, self._store_id, project_id=project_id, q=q, limit=limit
        )

    def _agent(self) -> str:
        if self._agent_id is None:
            raise BadRequest("long-term memory belongs to an agent: this call has none")
        return self._agent_id

    async def remember(
        self, *, content: str, type: str, importance: float
    ) -> tuple[MemoryRow, bool]:
        agent_id = self._agent()
        same = await memories.find_same(self._session, self._store_id, agent_id, content)
        if same is not None:
            return same, False
        row = await memories.create(
            self._session,
            self._store_id,
            agent_id=agent_id,
            content=content,
            type=type,
            importance=importance,
            source="tool",
            source_session_id=self._session_id,
            source_run_id=self._run_id,
        )
        return row, True

    async def recall(self, *, query: str, limit: int) -> list[Recalled]:
        found = await memory.choose(
            self._session,
            memory.Query(self._store_id, self._agent(), query, budget_tokens=10**9),
            standing=False,
        )
        return [
            Recalled(c.memory_id, c.content, c.type, c.importance, c.score) for c in found[:limit]
        ]
