"""Sessions and their messages."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from loopwright.db.repos import agents, conversations
from loopwright.domain.events import NewEvent
from loopwright.events import log
from loopwright.runtime import callbacks
from loopwright.runtime.submit import Submission
from loopwright.server.auth import Member, Reader, ServicesDep
from loopwright.server.openapi import declared
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.conversations import (
    MessageCreate,
    MessagePublic,
    RunPublic,
    SentMessage,
    SessionCreate,
    SessionPublic,
    SessionUpdate,
)

router = APIRouter(prefix="/v1/stores/{store_id}/sessions", tags=["sessions"])


@router.post("", status_code=201)
async def create_session(body: SessionCreate, access: Member, svc: ServicesDep) -> SessionPublic:
    async with svc.db.write(access.store_id) as session:
        await agents.get(session, access.store_id, body.agent_id)
        row = await conversations.create_session(
            session, access.store_id, body.agent_id, body.title, body.busy_policy
        )
        await log.append(
            session,
            access.store_id,
            [NewEvent("session.created", {"agent_id": body.agent_id}, session_id=row.id)],
        )
    return SessionPublic.model_validate(row)


@router.get("")
async def list_sessions(
    access: Reader,
    svc: ServicesDep,
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    child: Annotated[
        bool | None,
        Query(
            description="true: only the sessions of child runs (ask_agent, team executors); "
            "false: only the others; absent: all"
        ),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[SessionPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await conversations.list_sessions(
            session, access.store_id, agent_id=agent_id, child=child, limit=limit, cursor=cursor
        )
    return ListOf(
        items=[SessionPublic.model_validate(s) for s in page.items], next_cursor=page.next_cursor
    )


@router.get("/{session_id}")
async def get_session(session_id: str, access: Reader, svc: ServicesDep) -> SessionPublic:
    async with svc.db.read(access.store_id) as session:
        row = await conversations.get_session(session, access.store_id, session_id)
    return SessionPublic.model_validate(row)


@router.patch("/{session_id}")
async def update_session(
    session_id: str, body: SessionUpdate, access: Member, svc: ServicesDep
) -> SessionPublic:
    changes = body.model_dump(exclude_unset=True)
    async with svc.db.write(access.store_id) as session:
        row = await conversations.update_session(session, access.store_id, session_id, changes)
        await log.append(
            session,
            access.store_id,
            [NewEvent("session.updated", {"fields": sorted(changes)}, session_id=session_id)],
        )
    return SessionPublic.model_validate(row)


@router.delete("/{session_id}", status_code=204)
async def delete_session(session_id: str, access: Member, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        active = await conversations.active_run_ids(session, access.store_id, session_id)
        await conversations.delete_session(session, access.store_id, session_id)
        await log.append(
            session, access.store_id, [NewEvent("session.deleted", {}, session_id=session_id)]
        )
    await svc.runtime.cancel_many(access.store_id, active)
    return Response(status_code=204)


@router.get("/{session_id}/messages")
async def list_messages(
    session_id: str,
    access: Reader,
    svc: ServicesDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    order: Annotated[
        Literal["oldest", "newest"],
        Query(description="oldest first (default), or newest first to page back from the end"),
    ] = "oldest",
) -> ListOf[MessagePublic]:
    async with svc.db.read(access.store_id) as session:
        await conversations.get_session(session, access.store_id, session_id)
        page = await conversations.list_messages(
            session,
            access.store_id,
            session_id,
            limit=limit,
            cursor=cursor,
            newest=order == "newest",
        )
    return ListOf(items=[MessagePublic.of(m) for m in page.items], next_cursor=page.next_cursor)


@router.post(
    "/{session_id}/messages",
    status_code=202,
    response_model=SentMessage,
    responses={
        200: {"model": SentMessage, "description": "the finished run (wait=true)"},
        **declared(409, "The agent is disabled, or a run is active and the policy is `reject`."),
        **declared(
            429,
            "Over the store's runs, tokens per minute or token budget (`rate_limited`); "
            "`Retry-After` says when to try again.",
        ),
        **declared(503, "Runs are switched off for the store: `runs_enabled` (`unavailable`)."),
    },
)
async def send_message(
    session_id: str, body: MessageCreate, access: Member, svc: ServicesDep
) -> JSONResponse:
    record = None
    if body.callback_url is not None:
        await svc.runtime.egress.check_url(body.callback_url)
        record = callbacks.recorder(body.callback_url)
    submitted = await svc.runtime.submit(
        Submission(access.store_id, session_id, body.content, priority=body.priority),
        record=record,
    )
    run = submitted.run
    status = 202
    if body.wait:
        run = await svc.runtime.wait(access.store_id, run.id, timeout_s=body.wait_timeout_s)
        status = 200
    sent = SentMessage(message=MessagePublic.of(submitted.message), run=RunPublic.of(run))
    return JSONResponse(sent.model_dump(mode="json"), status_code=status)
