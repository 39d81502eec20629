"""Schedules: a cron expression in a time zone sends an agent a message; each fire records the
run it started (see ``runtime.scheduler``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from loopwright.db.repos import agents, schedules
from loopwright.db.tables import ScheduleRow
from loopwright.db.tables.base import utcnow
from loopwright.runtime import cron
from loopwright.runtime.scheduler import first_due
from loopwright.server.auth import Member, Reader, ServicesDep
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.triggers import (
    CronPreview,
    CronPreviewRequest,
    ScheduleCreate,
    ScheduleFirePublic,
    SchedulePublic,
    ScheduleUpdate,
)
from loopwright.server.services import Services

router = APIRouter(prefix="/v1/stores/{store_id}/schedules", tags=["schedules"])
preview_router = APIRouter(prefix="/v1/stores/{store_id}/cron-preview", tags=["schedules"])
"""Beside ``/schedules``, not under it: ``GET /schedules/preview`` would be a schedule's id."""


@preview_router.post("")
async def preview_schedule(body: CronPreviewRequest, access: Reader) -> CronPreview:
    """The next fire times of a cron expression, before saving it; 422 says why it is not
    valid."""
    return CronPreview(
        times=cron.next_times(body.cron, body.timezone, after=utcnow(), count=body.count)
    )


@router.post("", status_code=201)
async def create_schedule(body: ScheduleCreate, access: Member, svc: ServicesDep) -> SchedulePublic:
    cron.check(body.cron, body.timezone)
    fields = body.model_dump()
    fields["next_due_at"] = first_due(body.cron, body.timezone) if body.enabled else None
    async with svc.db.write(access.store_id) as session:
        await agents.get(session, access.store_id, body.agent_id)
        row = await schedules.create(session, access.store_id, **fields)
    _changed(svc)
    return SchedulePublic.of(row)


@router.get("")
async def list_schedules(
    access: Reader, svc: ServicesDep, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[SchedulePublic]:
    async with svc.db.read(access.store_id) as session:
        page = await schedules.list_page(session, access.store_id, limit=limit, cursor=cursor)
    return ListOf(items=[SchedulePublic.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/{schedule_id}")
async def get_schedule(schedule_id: str, access: Reader, svc: ServicesDep) -> SchedulePublic:
    async with svc.db.read(access.store_id) as session:
        row = await schedules.get(session, access.store_id, schedule_id)
    return SchedulePublic.of(row)


@router.patch("/{schedule_id}")
async def update_schedule(
    schedule_id: str, body: ScheduleUpdate, access: Member, svc: ServicesDep
) -> SchedulePublic:
    return await _update(svc, access.store_id, schedule_id, body.model_dump(exclude_unset=True))


@router.post("/{schedule_id}/pause")
async def pause_schedule(schedule_id: str, access: Member, svc: ServicesDep) -> SchedulePublic:
    return await _update(svc, access.store_id, schedule_id, {"enabled": False})


@router.post("/{schedule_id}/resume")
async def resume_schedule(schedule_id: str, access: Member, svc: ServicesDep) -> SchedulePublic:
    """Fires from the next due time after now: what fell due while paused is not made up."""
    return await _update(svc, access.store_id, schedule_id, {"enabled": True})


@router.delete("/{schedule_id}", status_code=204)
async def delete_schedule(schedule_id: str, access: Member, svc: ServicesDep) -> Response:
    async with svc.db.write(access.store_id) as session:
        await schedules.remove(session, access.store_id, schedule_id)
    return Response(status_code=204)


@router.get("/{schedule_id}/fires")
async def list_fires(
    schedule_id: str, access: Reader, svc: ServicesDep, limit: Limit = 50, cursor: Cursor = None
) -> ListOf[ScheduleFirePublic]:
    """Every fire, newest first, with the run it started."""
    async with svc.db.read(access.store_id) as session:
        await schedules.get(session, access.store_id, schedule_id)
        page = await schedules.fires(
            session, access.store_id, schedule_id, limit=limit, cursor=cursor
        )
    return ListOf(
        items=[ScheduleFirePublic.of(r) for r in page.items], next_cursor=page.next_cursor
    )


async def _update(
    svc: Services, store_id: str, schedule_id: str, changes: dict[str, Any]
) -> SchedulePublic:
    async with svc.db.write(store_id) as session:
        row = await schedules.get(session, store_id, schedule_id)
        merged = {"cron": row.cron, "timezone": row.timezone, "enabled": row.enabled, **changes}
        cron.check(merged["cron"], merged["timezone"])
        if _timing_changed(row, changes):
            changes["next_due_at"] = (
                first_due(merged["cron"], merged["timezone"]) if merged["enabled"] else None
            )
        row = await schedules.update_row(session, store_id, schedule_id, changes)
    _changed(svc)
    return SchedulePublic.of(row)


def _timing_changed(row: ScheduleRow, changes: dict[str, Any]) -> bool:
    return any(
        name in changes and changes[name] != getattr(row, name)
        for name in ("cron", "timezone", "enabled")
    ) or (row.enabled and row.next_due_at is None)


def _changed(svc: Services) -> None:
    svc.runtime.scheduler.changed()
