"""Projects, tasks and documents: the workspace the built-in tools act on. Reads come from
the repository; changes go through ``runtime.workspace``, which appends their events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from loopwright.db.repos import workspace as stored
from loopwright.domain.vocabulary import TaskStatus
from loopwright.runtime import workspace
from loopwright.server.auth import Member, Reader, ServicesDep
from loopwright.server.openapi import CONFLICT
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.workspace import (
    DocumentCreate,
    DocumentPublic,
    DocumentUpdate,
    ProjectCreate,
    ProjectPublic,
    ProjectUpdate,
    TaskCreate,
    TaskPublic,
    TaskUpdate,
)

router = APIRouter(prefix="/v1/stores/{store_id}", tags=["workspace"])

SearchQuery = Annotated[
    str | None, Query(max_length=200, description="case-insensitive text search")
]
ProjectFilter = Annotated[str | None, Query(max_length=64, description="only this project's")]


# -- projects -----------------------------------------------------------------------------------


@router.post("/projects", status_code=201, responses=CONFLICT)
async def create_project(body: ProjectCreate, access: Member, svc: ServicesDep) -> ProjectPublic:
    async with svc.db.write(access.store_id) as session:
        row = await workspace.create_project(
            session, access.store_id, name=body.name, description=body.description
        )
    return ProjectPublic.model_validate(row)


@router.get("/projects")
async def list_projects(
    access: Reader,
    svc: ServicesDep,
    q: SearchQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[ProjectPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await stored.list_projects(session, access.store_id, q=q, limit=limit, cursor=cursor)
    return ListOf(
        items=[ProjectPublic.model_validate(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.get("/projects/{project_id}")
async def get_project(project_id: str, access: Reader, svc: ServicesDep) -> ProjectPublic:
    async with svc.db.read(access.store_id) as session:
        row = await stored.get_project(session, access.store_id, project_id)
    return ProjectPublic.model_validate(row)


@router.patch("/projects/{project_id}", responses=CONFLICT)
async def update_project(
    project_id: str, body: ProjectUpdate, access: Member, svc: ServicesDep
) -> ProjectPublic:
    changes = body.model_dump(exclude_unset=True)
    async with svc.db.write(access.store_id) as session:
        row = await workspace.update_project(session, access.store_id, project_id, changes)
    return ProjectPublic.model_validate(row)


@router.delete("/projects/{project_id}", status_code=204)
async def delete_project(project_id: str, access: Member, svc: ServicesDep) -> Response:
    """Its tasks and documents are kept, without a project."""
    async with svc.db.write(access.store_id) as session:
        await workspace.delete_project(session, access.store_id, project_id)
    return Response(status_code=204)


# -- tasks --------------------------------------------------------------------------------------


@router.post("/tasks", status_code=201)
async def create_task(body: TaskCreate, access: Member, svc: ServicesDep) -> TaskPublic:
    async with svc.db.write(access.store_id) as session:
        row = await workspace.create_task(
            session,
            access.store_id,
            title=body.title,
            description=body.description,
            status=body.status,
            project_id=body.project_id,
        )
    return TaskPublic.model_validate(row)


@router.get("/tasks")
async def list_tasks(
    access: Reader,
    svc: ServicesDep,
    project_id: ProjectFilter = None,
    status: TaskStatus | None = None,
    q: SearchQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[TaskPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await stored.list_tasks(
            session,
            access.store_id,
            project_id=project_id,
            status=status,
            q=q,
            limit=limit,
            cursor=cursor,
        )
    return ListOf(
        items=[TaskPublic.model_validate(t) for t in page.items], next_cursor=page.next_cursor
    )


@router.get("/tasks/{task_id}")
async def get_task(task_id: str, access: Reader, svc: ServicesDep) -> TaskPublic:
    async with svc.db.read(access.store_id) as session:
        row = await stored.get_task(session, access.store_id, task_id)
    return TaskPublic.model_validate(row)


@router.patch("/tasks/{task_id}")
async def update_task(
    task_id: str, body: TaskUpdate, access: Member, svc: ServicesDep
) -> TaskPublic:
    changes = body.model_dump(exclude_unset=True)  # project_id: null detaches
    async with svc.db.write(access.store_id) as session:
        row = await workspace.update_task(session, access.store_id, task_id, changes)
    return TaskPublic.model_validate(row)


@router.delete("/tasks/{task_id}", status_code=204)
async def delete_task(task_id: str, access: Member, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        await workspace.delete_task(session, access.store_id, task_id)
    return Response(status_code=204)


# -- documents ----------------------------------------------------------------------------------


@router.post("/documents", status_code=201)
async def create_document(body: DocumentCreate, access: Member, svc: ServicesDep) -> DocumentPublic:
    async with svc.db.write(access.store_id) as session:
        row = await workspace.create_document(
            session,
            access.store_id,
            title=body.title,
            content=body.content,
            project_id=body.project_id,
        )
    return DocumentPublic.model_validate(row)


@router.get("/documents")
async def list_documents(
    access: Reader,
    svc: ServicesDep,
    project_id: ProjectFilter = None,
    q: SearchQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[DocumentPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await stored.list_documents(
            session, access.store_id, project_id=project_id, q=q, limit=limit, cursor=cursor
        )
    return ListOf(
        items=[DocumentPublic.model_validate(d) for d in page.items], next_cursor=page.next_cursor
    )


@router.get("/documents/{document_id}")
async def get_document(document_id: str, access: Reader, svc: ServicesDep) -> DocumentPublic:
    async with svc.db.read(access.store_id) as session:
        row = await stored.get_document(session, access.store_id, document_id)
    return DocumentPublic.model_validate(row)


@router.patch("/documents/{document_id}")
async def update_document(
    document_id: str, body: DocumentUpdate, access: Member, svc: ServicesDep
) -> DocumentPublic:
    changes = body.model_dump(exclude_unset=True)  # project_id: null detaches
    async with svc.db.write(access.store_id) as session:
        row = await workspace.update_document(session, access.store_id, document_id, changes)
    return DocumentPublic.model_validate(row)


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(document_id: str, access: Member, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        await workspace.delete_document(session, access.store_id, document_id)
    return Response(status_code=204)
