"""Team plans: a planner run's plans, each step with its executor runs and token totals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from loopwright.db.repos import plans
from loopwright.server.auth import Reader, ServicesDep
from loopwright.server.schemas.common import Cursor, Limit, ListOf
from loopwright.server.schemas.plans import PlanPublic, PlanSummary

router = APIRouter(prefix="/v1/stores/{store_id}/plans", tags=["plans"])


@router.get("")
async def list_plans(
    access: Reader,
    svc: ServicesDep,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ListOf[PlanSummary]:
    async with svc.db.read(access.store_id) as session:
        page = await plans.list_plans(
            session, access.store_id, run_id=run_id, limit=limit, cursor=cursor
        )
        statuses = await plans.run_statuses(
            session, access.store_id, sorted({p.run_id for p in page.items})
        )
    return ListOf(
        items=[PlanSummary.of(p, statuses.get(p.run_id)) for p in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{plan_id}")
async def get_plan(plan_id: str, access: Reader, svc: ServicesDep) -> PlanPublic:
    async with svc.db.read(access.store_id) as session:
        view = await plans.get_plan(session, access.store_id, plan_id)
    return PlanPublic.of_view(view)
