"""The worker processes on the database (operator): each one's host, versions, last heartbeat
and whether it is alive, silent past its expiry, or fenced (declared dead, its runs recovered)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from sqlalchemy import select

from loopwright.db.row_security import ALL_STORES
from loopwright.db.tables import WorkerRow
from loopwright.db.tables.base import utcnow
from loopwright.server.auth import OperatorDep, ServicesDep
from loopwright.server.schemas.common import ListOf
from loopwright.server.schemas.workers import WorkerPublic, WorkerState

router = APIRouter(prefix="/v1/workers", tags=["operations"])


@router.get("")
async def list_workers(_: OperatorDep, svc: ServicesDep) -> ListOf[WorkerPublic]:
    """Every registered worker, by executor id (a fenced one stays until its id registers
    again)."""
    async with svc.db.read(ALL_STORES) as session:
        rows = (await session.scalars(select(WorkerRow).order_by(WorkerRow.executor_id))).all()
    expired_before = utcnow() - timedelta(seconds=svc.settings.heartbeat_expiry_s)
    return ListOf(
        items=[WorkerPublic.of(row, _state(row, expired_before)) for row in rows],
        next_cursor=None,
    )


def _state(row: WorkerRow, expired_before: datetime) -> WorkerState:
    if row.fenced_at is not None:
        return "fenced"
    return "expired" if row.heartbeat_at < expired_before else "alive"
