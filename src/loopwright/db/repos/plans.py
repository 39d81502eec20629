"""Team plans of one store: a plan with its steps, the planner's run and its executors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loopwright.db.repos.paging import Page, newest_first
from loopwright.db.tables import PlanRow, PlanStepRow, RunRow
from loopwright.errors import NotFound


@dataclass(frozen=True, slots=True)
class PlanView:
    plan: PlanRow
    run: RunRow  # the planner's
    steps: list[PlanStepRow]
    executors: list[RunRow]  # every attempt of every step, oldest first


async def list_plans(
    session: AsyncSession, store_id: str, *, run_id: str | None, limit: int, cursor: str | None
) -> Page[PlanRow]:
    query = select(PlanRow).where(PlanRow.store_id == store_id)
    if run_id:
        query = query.where(PlanRow.run_id == run_id)
    return await newest_first(session, query, PlanRow.id, limit=limit, cursor=cursor)


async def run_statuses(session: AsyncSession, store_id: str, run_ids: list[str]) -> dict[str, str]:
    found = await session.execute(
        select(RunRow.id, RunRow.status).where(RunRow.store_id == store_id, RunRow.id.in_(run_ids))
    )
    return {row.id: row.status for row in found}


async def get_plan(session: AsyncSession, store_id: str, plan_id: str) -> PlanView:
    plan = await session.scalar(
        select(PlanRow).where(PlanRow.store_id == store_id, PlanRow.id == plan_id)
    )
    if plan is None:
        raise NotFound.of("plan", plan_id)
    run = await session.scalar(
        select(RunRow).where(RunRow.store_id == store_id, RunRow.id == plan.run_id)
    )
    if run is None:
        raise NotFound.of("plan", plan_id)
    steps = await session.scalars(
        select(PlanStepRow)
        .where(PlanStepRow.store_id == store_id, PlanStepRow.plan_id == plan_id)
        .order_by(PlanStepRow.index)
    )
    children = await session.scalars(
        select(RunRow)
        .where(
            RunRow.store_id == store_id,
            RunRow.parent_run_id == plan.run_id,
            RunRow.parent_call_id.like(f"plan:{plan_id}:%"),  # an executor's call
        )
        .order_by(RunRow.id)
    )
    executors = [c for c in children if _plan_of(c.team_step) == plan_id]
    return PlanView(plan, run, list(steps), executors)


def _plan_of(team_step: dict[str, Any] | None) -> str | None:
    return None if team_step is None else team_step.get("plan_id")
