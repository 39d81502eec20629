"""Runs and their steps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from loopwright.db.repos import conversations, run_queue
from loopwright.db.tables.base import utcnow
from loopwright.domain.vocabulary import RunStatus
from loopwright.server.auth import Member, Reader, ServicesDep
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.conversations import QueuePlacePublic, RunPublic, StepPublic

router = APIRouter(prefix="/v1/stores/{store_id}/runs", tags=["runs"])


@router.get("")
async def list_runs(
    access: Reader,
    svc: ServicesDep,
    session_id: Annotated[str | None, Query(max_length=64)] = None,
    parent_run_id: Annotated[str | None, Query(max_length=64)] = None,
    status: RunStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[RunPublic]:
    async with svc.db.read(access.store_id) as session:
        page = await conversations.list_runs(
            session,
            access.store_id,
            session_id=session_id,
            parent_run_id=parent_run_id,
            status=status,
            limit=limit,
            cursor=cursor,
        )
    return ListOf(items=[RunPublic.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/{run_id}")
async def get_run(run_id: str, access: Reader, svc: ServicesDep) -> RunPublic:
    async with svc.db.read(access.store_id) as session:
        row = await conversations.get_run(session, access.store_id, run_id)
        place = None
        if row.status == "queued":
            place = await run_queue.queue_place(session, access.store_id, row, utcnow())
    found = RunPublic.of(row)
    if place is not None:
        found.queue = QueuePlacePublic(
            ahead=place.ahead, running=place.running, waits_for_run=place.waits_for_run
        )
    return found


@router.get("/{run_id}/steps")
async def list_steps(run_id: str, access: Reader, svc: ServicesDep) -> ListOf[StepPublic]:
    async with svc.db.read(access.store_id) as session:
        await conversations.get_run(session, access.store_id, run_id)
        steps = await conversations.list_steps(session, access.store_id, run_id)
    return ListOf(items=[StepPublic.model_validate(s) for s in steps], next_cursor=None)


@router.post("/{run_id}/cancel")
async def cancel_run(run_id: str, access: Member, svc: ServicesDep) -> RunPublic:
    async with svc.db.read(access.store_id) as session:
        await conversations.get_run(session, access.store_id, run_id)
    row = await svc.runtime.cancel(access.store_id, run_id)
    return RunPublic.of(row)


@router.post("/{run_id}/wait")
async def wait_run(
    run_id: str,
    access: Reader,
    svc: ServicesDep,
    timeout_s: Annotated[float, Query(gt=0, le=3600)] = 60.0,
) -> RunPublic:
    async with svc.db.read(access.store_id) as session:
        await conversations.get_run(session, access.store_id, run_id)
    row = await svc.runtime.wait(access.store_id, run_id, timeout_s=timeout_s)
    return RunPublic.of(row)
